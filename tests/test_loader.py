from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentsync.errors import Location, Severity, ValidationFailed
from agentsync.kinds.agent import AGENT
from agentsync.layouts import folder_files
from agentsync.load import load_project, validate_project

FIXTURES = Path(__file__).parent / "fixtures" / "invalid"
SETTINGS = "namespace: agentsync\n"


def _directives(data: bytes) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for raw in data.splitlines():
        line = raw.decode("ascii", errors="replace")
        if not line.startswith("# ") or ": " not in line:
            break
        name, value = line[2:].split(": ", 1)
        found.setdefault(name, []).append(value)
    return found


def _place(root: Path, case: Path, data: bytes, directives: dict[str, list[str]]) -> None:
    target = root / directives.get("target", ["agents/case.yaml"])[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    if directives.get("directory"):
        target.mkdir()
        return
    if target.name == "agentsync.yaml":
        data = data.replace(b"# target: agentsync.yaml\n", b"")
    target.write_bytes(data)
    if "pad-to" in directives:
        with target.open("ab") as handle:
            handle.truncate(int(directives["pad-to"][0]))
    for link in directives.get("symlink", []):
        outside = root.parent / "outside.md"
        outside.write_text("secret\n")
        (root / link).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(outside, root / link)


CASES = sorted(FIXTURES.glob("*.yaml"))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_invalid_fixture_produces_exactly_its_message(tmp_path: Path, case: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "agentsync.yaml").write_text(SETTINGS)
    data = case.read_bytes()
    directives = _directives(data)
    assert directives.get("expect"), f"{case.name} has no '# expect:' line"
    _place(root, case, data, directives)
    rendered = [p.render().splitlines()[0] for p in validate_project(root)]
    assert rendered == directives["expect"]


def test_every_invalid_case_has_a_fixture() -> None:
    names = {c.stem for c in CASES}
    for needed in (
        "empty-file",
        "not-a-mapping",
        "invalid-utf8",
        "tab-indentation",
        "alias-bomb",
        "too-large",
        "directory-named-like-a-file",
        "missing-file-target",
    ):
        assert needed in names


def _project(root: Path) -> Path:
    (root / "agents" / "prompts").mkdir(parents=True)
    (root / "agents" / "team").mkdir()
    (root / "agentsync.yaml").write_text(
        "namespace: support\ndefault_environment: dev\nenvironments:\n"
        "  dev: {residency: global, api_key_env: ELEVENLABS_KEY_DEV, namespace: support-dev, variables: {port: 8080}}\n"
        "  prod: {base_url: https://api.elevenlabs.io, api_key_env: ELEVENLABS_KEY}\n"
        "tags: {authoritative: true}\nsafety: {max_change_share: 0.5, min_managed: 3}\n"
    )
    (root / "agents" / "prompts" / "bot.md").write_text("Be kind.\nBe brief.\n")
    (root / "agents" / "prompts" / "not-an-agent.yaml").write_text("- just data\n")
    (root / "agents" / "bot.yaml").write_text(
        "name: Bot\nid: agent_1\ntags: [support]\nconversation_config:\n  agent:\n"
        "    first_message: Hi\n    prompt:\n      prompt: !file prompts/bot.md\n"
        "      temperature: 0.5\n  tts: {voice_id: v1}\n"
    )
    (root / "agents" / "team" / "helper.yaml").write_text("name: Helper\nrenamed_from: old-helper\n")
    (root / "tags.yaml").write_text("- title: billing\n  description: Money\n- title: urgent\n  id: tag_9\n")
    return root


def test_load_project_builds_agents_with_plain_values_and_locations(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path))
    assert sorted(project.definitions["agent"]) == ["bot", "team/helper"]
    bot = project.definitions["agent"]["bot"]
    assert bot.id == "agent_1" and "id" not in bot.config
    assert bot.config["conversation_config"]["agent"]["prompt"] == {
        "prompt": "Be kind.\nBe brief.\n",
        "temperature": 0.5,
    }
    assert type(bot.config["conversation_config"]) is dict
    assert bot.locations[("conversation_config", "agent", "first_message")] == Location(
        "agents/bot.yaml", 6, 5
    )
    assert bot.locations[("tags", 0)] == Location("agents/bot.yaml", 3, 8)
    assert bot.location_of(("conversation_config", "tts", "voice_id", "x")) == Location(
        "agents/bot.yaml", 10, 9
    )
    assert project.definitions["agent"]["team/helper"].renamed_from == "old-helper"


def test_load_project_reads_settings_environment_and_tags(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path))
    assert project.settings.namespace == "support"
    assert "tags" in project.settings.authoritative
    assert project.settings.safety.max_change_share == 0.5 and project.settings.safety.min_managed == 3
    assert project.environment is not None and project.environment.name == "dev"
    assert project.environment.variables == {"port": "8080"}
    assert project.namespace == "support-dev"
    tags = list(project.definitions["tag"].values())
    assert [t.config for t in tags] == [
        {"title": "billing", "description": "Money"},
        {"title": "urgent"},
    ]
    assert tags[1].id == "tag_9"
    prod = load_project(tmp_path, environment="prod")
    assert prod.environment is not None and prod.environment.base_url == "https://api.elevenlabs.io"


def test_unknown_environment_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        load_project(_project(tmp_path), environment="stage")
    assert "unknown environment 'stage'; the project defines: dev, prod" in caught.value.render()


def test_no_tags_file_means_tags_unmanaged(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "tags.yaml").unlink()
    assert "tag" not in load_project(root).definitions


def test_warnings_do_not_fail_loading(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "agents" / "new.yaml").write_text(
        "conversation_config: {agent: {prompt: {llm: brand-new-llm}}}\n"
    )
    project = load_project(root)
    assert [w.severity for w in project.warnings] == [Severity.WARNING]


def test_every_problem_is_reported_across_files(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "agents" / "a.yaml").write_text("nme: A\n")
    (root / "agents" / "b.yaml").write_text("id: agent_1\n")
    (root / "agents" / "c.yaml").write_text("renamed_from: bot\n")
    messages = [p.render().splitlines()[0] for p in validate_project(root)]
    assert messages == [
        "agents/a.yaml:1:1: error: unknown field 'nme'; did you mean 'name'?",
        "agents/bot.yaml:2:5: error: id: agent agent_1 is already adopted by agents/b.yaml",
        "agents/c.yaml:1:15: error: renamed_from: 'bot' still has its own file (agents/bot.yaml); "
        "a rename moves the file",
    ]


def test_missing_project_file_is_one_problem(tmp_path: Path) -> None:
    problems = validate_project(tmp_path)
    assert [p.message for p in problems] == [
        f"{tmp_path} has no agentsync.yaml; run `agentsync init` to create a project"
    ]
    with pytest.raises(ValidationFailed):
        load_project(tmp_path)


def test_yaml_12_flow_mapping_with_url_and_merge_keys(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "agents" / "m.yaml").write_text(
        "conversation_config:\n  agent:\n    <<: {first_message: Hi, language: en}\n    language: fr\n"
    )
    agent = load_project(root).definitions["agent"]["m"]
    assert agent.config["conversation_config"]["agent"] == {"language": "fr", "first_message": "Hi"}


def test_agent_files_skip_prompts(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert [k for k, _ in folder_files(root, AGENT)] == ["bot", "team/helper"]
