"""Project files are attacker input when ``plan`` runs on a pull request, with the API key in the
environment. Each test here builds the hostile project, runs the real command (in-process CLI, against
the emulator where it plans), and checks both the one message it must give and that nothing it must not
read or show is in the output."""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentsync import loader
from agentsync.cli import options, run
from agentsync.client import RetryPolicy
from agentsync.emulator import ADMIN_KEY
from agentsync.errors import ValidationFailed
from agentsync.load import load_project, validate_project

MARKER = "ENVIRONMENT-MARKER-" + secrets.token_hex(8)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "agents" / "prompts").mkdir(parents=True)
    (project / "agentsync.yaml").write_text("namespace: ut\n")
    (project / "agents" / "bot.yaml").write_text("name: Bot\n")
    return project


def validate(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = run(["validate", str(root)])
    out = capsys.readouterr()
    return code, out.out + out.err


def messages(root: Path) -> list[str]:
    return [p.render().splitlines()[0] for p in validate_project(root)]


# --- 1. files stay inside the project -----------------------------------------------------------------


@pytest.mark.parametrize("target", ["agents/x.yaml", "tags.yaml", "agentsync.yaml"])
def test_a_file_linked_to_proc_environ_is_refused_unread(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    monkeypatch.setenv("UT_MARKER", MARKER)
    (root / target).unlink(missing_ok=True)
    (root / target).symlink_to("/proc/self/environ")
    code, said = validate(root, capsys)
    assert code == 1
    assert f"{target}:1:1: error: {target} is a symlink that leads out of the project" in said
    assert MARKER not in said and "UT_MARKER" not in said


def test_a_file_linked_outside_names_the_file(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("name: Outside\n")
    (root / "agents" / "x.yaml").symlink_to(outside)
    assert messages(root) == [
        f"agents/x.yaml:1:1: error: agents/x.yaml is a symlink that leads out of the project "
        f"(to {outside.resolve().as_posix()}); project files must be inside the project directory"
    ]


def test_a_link_inside_the_project_is_still_read(root: Path) -> None:
    (root / "agents" / "alias.yaml").symlink_to(root / "agents" / "bot.yaml")
    project = load_project(root)
    assert project.definitions["agent"]["alias"].config == {"name": "Bot"}


def test_a_device_through_a_symlink_is_refused(root: Path) -> None:
    (root / "agents" / "zero.yaml").symlink_to("/dev/zero")
    (root / "agents" / "prompts" / "zero.md").symlink_to("/dev/zero")
    (root / "agents" / "bot.yaml").write_text(
        "name: Bot\nconversation_config: {agent: {prompt: {prompt: !file prompts/zero.md}}}\n"
    )
    found = messages(root)
    assert len(found) == 2
    assert found[1].startswith("agents/zero.yaml:1:1: error: agents/zero.yaml is a symlink that leads out")
    assert "!file prompts/zero.md leaves the project directory" in found[0]


def _in_thread(fn: Any) -> list[Any]:
    """Run ``fn`` with a deadline, so that a blocking read fails the test instead of hanging it."""
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert out, "reading the project blocked"
    return out


@pytest.mark.parametrize("where", ["agents/fifo.yaml", "agents/prompts/fifo.md"])
def test_a_fifo_is_refused_without_blocking(root: Path, where: str) -> None:
    os.mkfifo(root / where)
    if where.endswith(".md"):
        (root / "agents" / "bot.yaml").write_text(
            "name: Bot\nconversation_config: {agent: {prompt: {prompt: !file prompts/fifo.md}}}\n"
        )
    [found] = _in_thread(lambda: messages(root))
    assert any(
        f"error: {where} is a FIFO (named pipe), not a regular file; project files must be regular files" in m
        for m in found
    ), found


def test_agents_folder_linked_outside_is_one_error(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-agents"
    outside.mkdir()
    (outside / "evil.yaml").write_text("name: Evil\n")
    (root / "agents" / "team").symlink_to(outside)
    assert messages(root) == [
        f"error: agents/team is a symlink that leads out of the project (to {outside.resolve().as_posix()}); "
        "project files must be inside the project directory"
    ]


def test_the_whole_agents_folder_linked_outside(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-agents"
    outside.mkdir()
    (outside / "evil.yaml").write_text("name: Evil\n")
    for child in (root / "agents" / "prompts", root / "agents" / "bot.yaml"):
        child.rmdir() if child.is_dir() else child.unlink()
    (root / "agents").rmdir()
    (root / "agents").symlink_to(outside)
    found = messages(root)
    assert found == [
        f"error: agents is a symlink that leads out of the project (to {outside.resolve().as_posix()}); "
        "project files must be inside the project directory"
    ]


# --- 2. bounded reads ---------------------------------------------------------------------------------


def test_a_huge_file_is_rejected_early_without_reading_it_whole(root: Path) -> None:
    big = root / "agents" / "big.yaml"
    with big.open("wb") as handle:
        handle.write(b"name: Bot\n")
        handle.truncate(4 * 1024**3)  # sparse: 4 GiB that reading whole would need in memory
    tracemalloc.start()
    started = time.perf_counter()
    found = messages(root)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert found == [
        "agents/big.yaml:1:1: error: agents/big.yaml is larger than 1 MiB, the limit for one project file"
    ]
    assert peak < 16 * 1024**2, peak
    assert elapsed < 10, elapsed


def test_the_whole_project_is_bounded(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_PROJECT_BYTES", 64 * 1024)
    filler = "name: Bot\nconversation_config: {agent: {first_message: '" + "x" * 30_000 + "'}}\n"
    for name in ("a", "b", "c"):
        (root / "agents" / f"{name}.yaml").write_text(filler)
    found = messages(root)
    assert found == [
        "agents/c.yaml:1:1: error: agents/c.yaml is past the limit for the whole project: its files may "
        "hold 64 KiB together; split the project or shorten its files"
    ]


# --- 3. alias and merge-key bombs --------------------------------------------------------------------


def merge_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 {k: v}"]
    for i in range(1, levels + 1):
        refs = ", ".join([f"*a{i - 1}"] * width)
        lines.append(f"a{i}: &a{i} {{<<: [{refs}]}}")
    return "\n".join(lines) + "\n"


def test_a_merge_key_bomb_is_one_located_error(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bomb = merge_bomb()
    assert len(bomb) < 600
    (root / "agents" / "bot.yaml").write_text(bomb)
    started = time.perf_counter()
    code, said = validate(root, capsys)
    assert time.perf_counter() - started < 20
    assert code == 1
    assert said.splitlines()[0] == (
        f"{root.as_posix()}/agents/bot.yaml:7:1: error: merge keys (<<) expand to more than "
        "100000 values (a merge-key bomb?); merges are bounded like aliases"
    )
    assert said.count("error:") == 1


def test_a_merge_key_bomb_does_not_hang_plan(
    root: Path, api_env: object, capsys: pytest.CaptureFixture[str]
) -> None:
    (root / "agents" / "bot.yaml").write_text(merge_bomb())
    started = time.perf_counter()
    code = run(["plan", "-C", str(root)])
    said = capsys.readouterr()
    assert time.perf_counter() - started < 20
    assert code == 1 and "merges are bounded like aliases" in said.err + said.out


def test_a_recursive_merge_is_an_error(root: Path) -> None:
    (root / "agents" / "bot.yaml").write_text("name: Bot\nplatform_settings: &p\n  <<: *p\n")
    assert messages(root) == [
        "agents/bot.yaml:2:1: error: a merge key (<<) refers to a mapping that contains it (a recursive merge)"
    ]


def test_ordinary_merges_still_work(root: Path) -> None:
    (root / "agents" / "bot.yaml").write_text(
        "name: Bot\nconversation_config:\n  agent: &base {first_message: Hi, language: en}\n"
        "  tts: {voice_id: v1}\n"
        "platform_settings:\n  call_limits: {<<: [{daily_limit: 5}, {daily_limit: 9, agent_concurrency_limit: 2}]}\n"
    )
    config = load_project(root).definitions["agent"]["bot"].config
    assert config["platform_settings"]["call_limits"] == {"daily_limit": 5, "agent_concurrency_limit": 2}


# --- 4. non-finite numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("written", [".nan", ".inf", "-.inf", ".NaN", "+.Inf"])
def test_non_finite_numbers_are_refused_at_their_location(root: Path, written: str) -> None:
    (root / "agents" / "bot.yaml").write_text(
        f"name: Bot\nconversation_config:\n  agent:\n    prompt: {{temperature: {written}}}\n"
    )
    assert messages(root) == [
        "agents/bot.yaml:4:27: error: conversation_config.agent.prompt.temperature: must be a finite "
        "number: JSON has no NaN or infinity (.nan, .inf, -.inf)"
    ]


def test_a_non_finite_number_from_the_environment_is_refused(root: Path) -> None:
    (root / "agents" / "bot.yaml").write_text(
        "name: Bot\nplatform_settings:\n  call_limits: {daily_limit: 5}\n"
        "conversation_config: {tts: {stability: '${env.UT_NUMBER}'}}\n"
    )
    with pytest.raises(ValidationFailed) as caught:
        load_project(root, environ={"UT_NUMBER": "nan"})
    assert [p.render().splitlines()[0] for p in caught.value.problems] == [
        "agents/bot.yaml:4:40: error: conversation_config.tts.stability: must be a finite number: JSON has "
        "no NaN or infinity (.nan, .inf, -.inf)"
    ]


def test_non_finite_numbers_in_settings_and_tags(root: Path) -> None:
    (root / "agentsync.yaml").write_text("namespace: ut\nsafety: {max_change_share: .nan}\n")
    found = messages(root)
    assert found == [
        "agentsync.yaml:2:28: error: safety.max_change_share: must be a finite number: JSON has no NaN "
        "or infinity (.nan, .inf, -.inf)"
    ]


# --- 5. no value from ${env.*} in any message ---------------------------------------------------------

TOKEN = "tok" + secrets.token_hex(12)


def _load_messages(root: Path, environ: dict[str, str]) -> str:
    try:
        project = load_project(root, environ=environ)
    except ValidationFailed as failed:
        return failed.render()
    return "\n".join(p.render() for p in project.warnings)


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        (
            "conversation_config: {agent: {prompt: {llm: '${env.UT_SECRET}'}}}",
            "conversation_config.agent.prompt.llm: the value of ${env.UT_SECRET} is not a known LLM; "
            "it is accepted as written",
        ),
        (
            "conversation_config: {agent: {prompt: {temperature: '${env.UT_SECRET}'}}}",
            "conversation_config.agent.prompt.temperature: expected a number or null, found the value "
            "of ${env.UT_SECRET}",
        ),
        (
            "conversation_config: {agent: {prompt: {llm: 'x-${env.UT_SECRET}'}}}",
            "conversation_config.agent.prompt.llm: the value of 'x-${env.UT_SECRET}' is not a known LLM",
        ),
        (
            "conversation_config: {tts: {model_id: '${env.UT_SECRET}'}}",
            "the value of ${env.UT_SECRET} is not a known TTS model",
        ),
        ("tags: ['${env.UT_SECRET}']", "tags[0]: the value of ${env.UT_SECRET} looks like agentsync's"),
        (
            "renamed_from: '${env.UT_SECRET}'",
            "renamed_from: the value of ${env.UT_SECRET} still has its own file;",
        ),
    ],
)
def test_messages_name_the_placeholder_not_the_value(root: Path, fragment: str, expected: str) -> None:
    (root / "agents" / "bot.yaml").write_text(f"name: Bot\n{fragment}\n")
    (root / "agents" / "ut-other.yaml").write_text("name: Other\n")
    value = "ut:other" if "tags" in fragment else "ut-other" if "renamed" in fragment else TOKEN
    said = _load_messages(root, {"UT_SECRET": value})
    assert expected in said, said
    assert value not in said.replace("agents/ut-other.yaml", "")


def test_an_enum_error_about_a_secret_gives_no_suggestion(root: Path) -> None:
    (root / "agents" / "bot.yaml").write_text(
        "name: Bot\nconversation_config: {agent: {language: '${env.UT_SECRET}'}, "
        "turn: {turn_eagerness: '${env.UT_SECRET}'}}\n"
    )
    said = _load_messages(root, {"UT_SECRET": "patien"})
    assert "turn_eagerness: the value of ${env.UT_SECRET} is not one of:" in said, said
    assert "did you mean" not in said and "patien'" not in said


def test_a_secret_name_is_not_shown_by_plan(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UT_SECRET", TOKEN)
    (root / "agents" / "bot.yaml").write_text("name: '${env.UT_SECRET}'\n")
    for fmt in ("text", "markdown", "json"):
        assert run(["plan", "-C", str(root), "--emulator", "--format", fmt]) == 0
        said = capsys.readouterr()
        assert TOKEN not in said.out + said.err
        assert "${env.UT_SECRET}" in said.out
    assert run(["validate", str(root)]) == 0
    assert TOKEN not in "".join(capsys.readouterr())


# --- 6. property: a secret anywhere never reaches an output -------------------------------------------

LEAK = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# 15 significant digits always print back as written, so a leaked number is found as this very text.
NUMBER = f"0.{secrets.randbelow(9 * 10**13) + 10**13}7"
STRING_PATHS = [
    ("name",),
    ("conversation_config", "agent", "first_message"),
    ("conversation_config", "agent", "prompt", "prompt"),
    ("conversation_config", "agent", "prompt", "llm"),
    ("conversation_config", "agent", "language"),
    ("conversation_config", "tts", "voice_id"),
    ("conversation_config", "tts", "model_id"),
    ("platform_settings", "analysis_llm"),
]
NUMBER_PATHS = [
    ("conversation_config", "agent", "prompt", "temperature"),
    ("conversation_config", "tts", "stability"),
    ("conversation_config", "tts", "speed"),
    ("conversation_config", "turn", "turn_timeout"),
    ("platform_settings", "call_limits", "daily_limit"),
]
AGENT: dict[str, Any] = {
    "name": "Bot",
    "conversation_config": {
        "agent": {"first_message": "Hello!", "language": "en", "prompt": {"prompt": "Be kind."}},
        "tts": {"voice_id": "cjVigY5qzO86Huf0OWal"},
    },
}
agents_strategy = st.fixed_dictionaries(
    {
        "temperature": st.sampled_from([0.0, 0.3, 1.0]),
        "daily_limit": st.integers(min_value=1, max_value=1000),
        "tags": st.lists(st.sampled_from(["support", "sales", "vip"]), max_size=2, unique=True),
        "with_llm": st.booleans(),
    }
)


def _agent(shape: dict[str, Any], placed: list[tuple[str | int, ...]], embedded: bool) -> dict[str, Any]:
    doc = json.loads(json.dumps(AGENT))
    doc["tags"] = shape["tags"]
    doc["conversation_config"]["agent"]["prompt"]["temperature"] = shape["temperature"]
    doc["platform_settings"] = {"call_limits": {"daily_limit": shape["daily_limit"]}}
    if shape["with_llm"]:
        doc["conversation_config"]["agent"]["prompt"]["llm"] = "gemini-2.5-flash"
    for path in placed:
        node = doc
        for part in path[:-1]:
            node = node.setdefault(part, {})
        numeric = path in NUMBER_PATHS
        node[path[-1]] = "x ${env.UT_SECRET} y" if embedded and not numeric else "${env.UT_SECRET}"
    return doc


def _written(tmp: Path) -> str:
    """Every file the commands wrote, except the emulator's own state (the server's, like test_secrets)."""
    texts = []
    for path in tmp.rglob("*"):
        if path.is_file() and ".agentsync" not in path.parts:
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(texts)


@LEAK
@given(
    shape=agents_strategy,
    placed=st.lists(st.sampled_from(STRING_PATHS + NUMBER_PATHS), min_size=1, max_size=3, unique=True),
    as_number=st.booleans(),
    embedded=st.booleans(),
)
def test_a_secret_at_any_path_never_reaches_any_output(
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    shape: dict[str, Any],
    placed: list[tuple[str | int, ...]],
    as_number: bool,
    embedded: bool,
) -> None:
    secret = NUMBER if as_number else TOKEN
    needles = (secret, secret[:12], secret[-12:])
    monkeypatch.setenv("UT_SECRET", secret)
    monkeypatch.setenv("ELEVENLABS_API_KEY", ADMIN_KEY)
    monkeypatch.setattr(options, "RETRY", RetryPolicy(max_attempts=1))
    tmp = tmp_path_factory.mktemp("leak")
    project = tmp / "project"
    (project / "agents").mkdir(parents=True)
    (project / "agentsync.yaml").write_text("namespace: leak\n")
    (project / "agents" / "bot.yaml").write_text(json.dumps(_agent(shape, placed, embedded)))
    capsys.readouterr()
    codes = [run(["validate", str(project)]), run(["validate", str(project), "--format", "json"])]
    for fmt in ("text", "markdown", "json"):
        out = str(tmp / f"plan-{fmt}.json")
        codes.append(
            run(["plan", "-C", str(project), "--emulator", "--format", fmt, "--show-body", "--out", out])
        )
    said = capsys.readouterr()
    seen = said.out + said.err + _written(tmp)
    assert "Traceback" not in seen and "unexpected" not in seen, seen
    assert set(codes) <= {0, 1}, codes
    for needle in needles:
        assert needle not in seen, (needle, seen)
    if codes[2] == 0:  # the secret was resolved and planned, not refused before use
        assert "${env.UT_SECRET}" in (tmp / "plan-text.json").read_text()


@pytest.mark.parametrize("field", ["id", "renamed_from"])
def test_an_identity_field_from_env_is_refused_without_showing_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str
) -> None:
    monkeypatch.setenv("UT_ID_SECRET", "agent_secretvalue123")
    root = tmp_path / "p"
    (root / "agents").mkdir(parents=True)
    (root / "agentsync.yaml").write_text("namespace: t\n")
    (root / "agents" / "bot.yaml").write_text(f"name: Bot\n{field}: ${{env.UT_ID_SECRET}}\n")
    (root / "tags.yaml").write_text("- title: vip\n  id: ${env.UT_ID_SECRET}\n")
    with pytest.raises(ValidationFailed) as caught:
        load_project(root)
    text = caught.value.render()
    assert f"agents/bot.yaml:2:{len(field) + 3}: error: {field}: cannot come from ${{env.*}}" in text
    assert "tags.yaml:2:7: error: id: cannot come from ${env.*}" in text
    assert "secretvalue123" not in text


def test_a_secret_name_from_env_is_refused_without_showing_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UT_NAME_SECRET", "hidden-name-77a1c9")
    monkeypatch.setenv("UT_VALUE", "v")
    root = tmp_path / "p"
    (root / "agents").mkdir(parents=True)
    (root / "agentsync.yaml").write_text("namespace: t\n")
    (root / "secrets.yaml").write_text("- name: ${env.UT_NAME_SECRET}\n  value: ${env.UT_VALUE}\n")
    with pytest.raises(ValidationFailed) as caught:
        load_project(root)
    text = caught.value.render()
    assert "secrets.yaml:1:9: error: name: cannot come from ${env.*}" in text
    assert "hidden-name-77a1c9" not in text
