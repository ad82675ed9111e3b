"""pull: the writable view, default stripping, the round-trip merge, tags.yaml, selection, atomic
writes, and the invariant that a plan right after a pull shows no changes (against the emulator)."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentsync import pull as pull_module
from agentsync.client import Client
from agentsync.emulator import ADMIN_KEY, Emulator
from agentsync.emulator.defaults import agent_defaults
from agentsync.errors import ApiError, IdentityError, UsageError
from agentsync.kinds.agent import AGENT
from agentsync.kinds.tag import TAG
from agentsync.load import load_project
from agentsync.plan import Action, FieldChange, Plan
from agentsync.planner import build_plan
from agentsync.pull import FileAction, PullOptions, pull, write_files
from agentsync.pullfolder import Source, Style, new_content, render_changes, render_new
from agentsync.pulllist import Entry, render_list
from agentsync.pullselect import slug, unique_key
from agentsync.pullview import PullError, strip_defaults, writable_view
from agentsync.remote import fetch
from agentsync.reverse import Exporter
from agentsync.yamlwrite import Editor, dump, yaml_engine
from tests.defs import agent_def

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "support-desk"
RESPONSE = json.loads((ROOT / "tests" / "data" / "example-agent-response.json").read_text())
NS = "team"


@pytest.fixture
def client(emulator: Emulator) -> Iterator[Client]:
    with Client(emulator.url, ADMIN_KEY) as c:
        yield c


def new_project(root: Path, namespace: str = NS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "agentsync.yaml").write_text(f"namespace: {namespace}\n")
    return root


def create_agent(client: Client, body: dict[str, Any]) -> str:
    agent_id: str = client.post("/v1/convai/agents/create", body)["agent_id"]
    return agent_id


def plan_for(client: Client, root: Path) -> Plan:
    project = load_project(root)
    return build_plan(project, fetch(client, project))


def do_pull(client: Client, root: Path, **options: Any) -> pull_module.PullResult:
    return pull(client, load_project(root), PullOptions(**options))


def agents(result: pull_module.PullResult) -> tuple[str, ...]:
    return tuple(r.key for r in result.resources if r.kind == AGENT.name)


def adopted(result: pull_module.PullResult) -> tuple[str, ...]:
    return tuple(r.key for r in result.resources if r.adopted)


def tags(result: pull_module.PullResult) -> int | None:
    return result.count(TAG.name) if TAG.name in result.kinds else None


def render_agent(root: Path, source: Source, style: Style) -> dict[Path, str]:
    return render_new(root, source, NS, style)[0]


def render_tags(path: Path, remote: list[dict[str, Any]]) -> str | None:
    entries = [Entry(t["title"], t["tag_id"], t) for t in remote]
    return render_list(path, TAG, entries, Exporter({}))[0]


# --- the writable view --------------------------------------------------------------------------------


def test_writable_view_keeps_only_writable_known_fields_and_hides_the_marker() -> None:
    body = copy.deepcopy(RESPONSE)
    body["tags"] = ["support", f"{NS}:support-bot", "other:x"]
    body["coaching_settings"] = {"on": True}  # live-only keys the spec does not declare
    body["conversation_config"]["tts"]["future_knob"] = {"reverb": 1}
    body["conversation_config"]["agent"]["prompt"]["tools"] = [{"type": "system"}]
    view = writable_view(AGENT, body, NS)
    assert sorted(view) == ["conversation_config", "name", "platform_settings", "tags", "workflow"]
    assert view["tags"] == ["support", "other:x"]
    assert "future_knob" not in view["conversation_config"]["tts"]
    assert "coaching_settings" not in view
    assert "tools" not in view["conversation_config"]["agent"]["prompt"]
    assert "safety" not in view["platform_settings"]


def test_writable_view_leaves_out_what_the_spec_marks_read_only() -> None:
    # The server fills queueing_config.hold_audio; a pulled file that declared it would not validate.
    body = copy.deepcopy(RESPONSE)
    body["platform_settings"]["queueing_config"] = {"enabled": False, "hold_audio": None}
    view = writable_view(AGENT, body, NS)
    assert view["platform_settings"]["queueing_config"] == {"enabled": False}


def test_strip_defaults_leaves_what_the_user_set() -> None:
    stripped = strip_defaults(AGENT, writable_view(AGENT, RESPONSE, NS), agent_defaults())
    assert stripped == {
        "name": "Support Agent",
        "tags": ["support"],
        "conversation_config": {
            "agent": {
                "first_message": "Hi, this is the Acme support line. How can I help you today?",
                "prompt": {"prompt": "You are a friendly support agent for Acme. Keep answers short."},
            }
        },
    }


def test_strip_defaults_compares_numbers_numerically_but_not_booleans() -> None:
    body = copy.deepcopy(RESPONSE)
    body["conversation_config"]["turn"]["turn_timeout"] = 7  # default 7.0: same value
    body["conversation_config"]["tts"]["optimize_streaming_latency"] = 3.0  # default 3
    body["conversation_config"]["conversation"]["text_only"] = 0  # default False: not the same
    stripped = strip_defaults(AGENT, writable_view(AGENT, body, NS), agent_defaults())
    assert "turn" not in stripped["conversation_config"]
    assert "tts" not in stripped["conversation_config"]
    assert stripped["conversation_config"]["conversation"] == {"text_only": 0}


def test_strip_defaults_keeps_lists_and_free_form_maps_whole() -> None:
    body = copy.deepcopy(RESPONSE)
    body["conversation_config"]["conversation"]["client_events"].append("vad_score")
    body["platform_settings"]["data_collection"] = {"x": {"type": "string", "description": "d", "enum": None}}
    stripped = strip_defaults(AGENT, writable_view(AGENT, body, NS), agent_defaults())
    assert stripped["conversation_config"]["conversation"]["client_events"][-1] == "vad_score"
    assert len(stripped["conversation_config"]["conversation"]["client_events"]) == 6
    assert stripped["platform_settings"]["data_collection"]["x"]["enum"] is None


def test_a_set_nullable_object_stays_set_even_when_its_fields_are_defaults() -> None:
    body = copy.deepcopy(RESPONSE)
    assert body["conversation_config"]["agent"]["text_behavior_overrides"] is None
    body["conversation_config"]["agent"]["text_behavior_overrides"] = {}
    stripped = strip_defaults(AGENT, writable_view(AGENT, body, NS), agent_defaults())
    assert stripped["conversation_config"]["agent"]["text_behavior_overrides"] == {}


def test_full_mode_writes_every_writable_field() -> None:
    source = Source(AGENT, "bot", RESPONSE)
    target = new_content(source, NS, Style(full=True), None)
    assert target["conversation_config"]["tts"]["stability"] == 0.5
    assert "widget" in target["platform_settings"]
    assert "agent_id" not in target and "metadata" not in target


# --- keys -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Support Bot", "support-bot"),
        ("  Ünïcödé / Agent!! ", "unicode-agent"),
        ("", "agent"),
        ("../../etc/passwd", "etc-passwd"),
        ("日本語", "agent"),
    ],
)
def test_slug_is_file_system_safe(name: str, key: str) -> None:
    assert slug(name, "agent") == key


def test_unique_key_adds_a_counter() -> None:
    taken = {"bot", "bot-2"}
    assert unique_key("Bot", taken, "agent") == "bot-3"
    assert unique_key("Bot", taken, "agent") == "bot-4"


# --- merging into existing files --------------------------------------------------------------------

EXISTING = """\
# yaml-language-server: $schema=../schemas/agent.schema.json
# The bot everyone talks to.
name: 'Support Agent'   # quoted on purpose
tags: [support]
conversation_config:
  agent:
    first_message: "Old greeting"
    prompt:
      prompt: !file prompts/bot.md
      temperature: 0.0    # pinned: the file manages it even at its default
id: agent_123
"""


def write_existing(root: Path) -> Path:
    (root / "agents" / "prompts").mkdir(parents=True)
    (root / "agents" / "prompts" / "bot.md").write_text("old prompt\n")
    path = root / "agents" / "bot.yaml"
    path.write_text(EXISTING)
    return path


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "bot.yaml").write_text("- just a list\n")
    definition = agent_def("bot", config={"name": "x"})
    with pytest.raises(PullError, match="does not hold a mapping"):
        render_changes(tmp_path, AGENT, definition, [FieldChange(("name",), "y", "x")], Exporter({}))


def test_editor_updates_lists_in_place_and_keeps_item_comments(tmp_path: Path) -> None:
    document = yaml_engine().load("xs:\n  - 1  # one\n  - 2\n  - 3\n")
    Editor(tmp_path).update_map(document, {"xs": [1, 5]})
    assert dump(document) == "xs:\n  - 1  # one\n  - 5\n"


def test_prompts_as_files_moves_an_inline_prompt_out(tmp_path: Path) -> None:
    files = render_agent(tmp_path, Source(AGENT, "bot", RESPONSE), Style(as_files=True))
    assert "prompt: !file prompts/bot.md" in files[tmp_path / "agents" / "bot.yaml"]
    assert files[tmp_path / "agents" / "prompts" / "bot.md"].startswith("You are a friendly")


def test_new_files_point_at_the_schema_only_when_the_project_has_it(tmp_path: Path) -> None:
    plain = render_agent(tmp_path, Source(AGENT, "team/bot", RESPONSE), Style())
    assert "yaml-language-server" not in plain[tmp_path / "agents" / "team" / "bot.yaml"]
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "agent.schema.json").write_text("{}")
    pointed = render_agent(tmp_path, Source(AGENT, "team/bot", RESPONSE), Style())
    text = pointed[tmp_path / "agents" / "team" / "bot.yaml"]
    assert text.startswith("# yaml-language-server: $schema=../../schemas/agent.schema.json\n")


# --- tags.yaml --------------------------------------------------------------------------------------


def tag(tag_id: str, title: str, description: str | None, created: int) -> dict[str, Any]:
    return {"tag_id": tag_id, "title": title, "description": description, "created_at_unix_secs": created}


def test_tags_yaml_keeps_comments_and_order_drops_gone_tags_and_appends_new_ones(tmp_path: Path) -> None:
    path = tmp_path / "tags.yaml"
    path.write_text(
        "# Tags for reviewers.\n- title: outage  # keep me\n  description: old\n"
        "- title: gone\n- title: renamed-remotely\n  id: t3\n"
    )
    remote = [tag("t1", "outage", "new", 3), tag("t2", "billing", None, 1), tag("t3", "vip", "x", 2)]
    assert render_tags(path, remote) == (
        "# Tags for reviewers.\n- title: outage  # keep me\n  description: new\n"
        "- title: vip\n  id: t3\n  description: x\n- title: billing\n"
    )


def test_tags_yaml_refuses_two_remote_tags_with_one_title(tmp_path: Path) -> None:
    with pytest.raises(PullError, match=r"t1 and t2"):
        render_tags(tmp_path / "tags.yaml", [tag("t1", "dup", None, 1), tag("t2", "dup", None, 2)])


# --- atomic writes ----------------------------------------------------------------------------------


def test_write_files_changes_nothing_when_one_file_cannot_be_staged(tmp_path: Path) -> None:
    good = tmp_path / "a.yaml"
    good.write_text("old\n")
    (tmp_path / "blocker").write_text("a file where a directory is needed")
    with pytest.raises(PullError, match="could not write"):
        write_files({good: "new\n", tmp_path / "blocker" / "b.yaml": "x"})
    assert good.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "blocker"]


# --- against the emulator ---------------------------------------------------------------------------


def apply_example(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    from agentsync.cli import run

    monkeypatch.setenv("ELEVENLABS_BASE_URL", emulator.url)
    monkeypatch.setenv("ELEVENLABS_API_KEY_DEV", ADMIN_KEY)
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    # Converges or not, the workspace now holds it; the example declares residency global, so pointing it
    # at the emulator through ELEVENLABS_BASE_URL takes the confirming flag.
    run(["apply", "--auto-approve", "--allow-base-url-override", "-C", str(root)])
    return root


@pytest.mark.parametrize("full", [False, True])
def test_example_pull_then_plan_shows_no_changes(
    tmp_path: Path, emulator: Emulator, client: Client, monkeypatch: pytest.MonkeyPatch, full: bool
) -> None:
    root = apply_example(tmp_path, emulator, monkeypatch)
    shutil.rmtree(root / "agents")
    (root / "tags.yaml").unlink()
    result = do_pull(client, root, all=True, full=full)
    assert sorted(agents(result)) == ["billing", "receptionist", "tech-support"]
    assert adopted(result) == () and tags(result) == 4
    written = {f.action for f in result.files if f.kind in (AGENT.name, TAG.name)}
    assert written == {FileAction.CREATE}
    # The tools, tests, MCP servers and lists the example still has are what the workspace holds.
    assert {f.action for f in result.files if f.kind not in (AGENT.name, TAG.name)} == {FileAction.UNCHANGED}
    plan = plan_for(client, root)
    assert plan.changes == () and plan.unchanged == 13


def test_the_example_pulled_into_an_empty_project_plans_no_changes(
    tmp_path: Path, emulator: Emulator, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every kind of the example (agents, tools, an MCP server, a test, tags) rebuilt from the workspace
    alone, with every id of a pulled resource written as its reference."""
    apply_example(tmp_path, emulator, monkeypatch)
    root = tmp_path / "rebuilt"
    root.mkdir()
    shutil.copy(EXAMPLE / "agentsync.yaml", root / "agentsync.yaml")
    result = do_pull(client, root, all=True)
    kinds = {r.kind for r in result.resources}
    assert {"agent", "tool", "mcp-server", "test", "tag"} <= kinds, kinds
    billing = (root / "agents" / "billing.yaml").read_text()
    # Keys of natural-key kinds come from the names: the tool check_status_page is tools/check-status-page.yaml.
    assert "tool_ids: ['${tool.lookup-account.id}', '${tool.request-refund.id}']" in billing
    assert "test_id: ${test.billing-files-refunds-with-the-refund-tool.id}" in billing
    assert not [n for n in result.notes if "belongs to no" in n], result.notes
    plan = plan_for(client, root)
    assert plan.changes == (), [(c.kind, c.key, c.action) for c in plan.changes]


def test_pull_without_arguments_refreshes_owned_files_and_keeps_their_comments(
    tmp_path: Path, emulator: Emulator, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = apply_example(tmp_path, emulator, monkeypatch)
    project = load_project(root)
    billing = fetch(client, project).bodies["agent"]
    agent_id = next(i for i, b in billing.items() if b["name"] == "Northwind Billing")
    client.patch(f"/v1/convai/agents/{agent_id}", {"conversation_config": {"tts": {"speed": 1.05}}})
    before = (root / "agents" / "billing.yaml").read_text()
    result = pull(client, project, PullOptions())
    after = (root / "agents" / "billing.yaml").read_text()
    assert tags(result) == 4 and sorted(agents(result)) == ["billing", "receptionist", "tech-support"]
    assert "# The billing specialist: invoices, refunds and payment methods." in after
    assert "prompt: !file prompts/billing.md" in after
    assert "speed: 1.05" in after and "speed: 0.95" in before
    modeline = "# yaml-language-server: $schema=schemas/tags.schema.json\n"
    assert (root / "tags.yaml").read_text().startswith(f"{modeline}# Conversation tags, used by reviewers")
    assert not [c for c in plan_for(client, root).changes if c.key == "billing"]


def test_an_unowned_agent_gets_a_key_from_its_name_and_an_id_to_adopt(tmp_path: Path, client: Client) -> None:
    root = new_project(tmp_path / "p")
    agent_id = create_agent(
        client,
        {"name": "Front Desk", "conversation_config": {"agent": {"first_message": "Hello"}}, "tags": ["ui"]},
    )
    result = do_pull(client, root, all=True)
    assert adopted(result) == ("front-desk",)
    text = (root / "agents" / "front-desk.yaml").read_text()
    assert (
        text
        == f"name: Front Desk\ntags: [ui]\nconversation_config:\n  agent:\n    first_message: Hello\nid: {agent_id}\n"
    )
    plan = plan_for(client, root)
    assert [(c.action, c.key) for c in plan.changes] == [(Action.ADOPT, "front-desk")]
    assert [f.path for f in plan.changes[0].fields if f.path != ("tags",)] == []
    again = do_pull(client, root, all=True)  # before adoption: same file, not a twin
    assert agents(again) == ("front-desk",) and not again.changed


def test_owned_key_taken_names_get_a_counter(tmp_path: Path, client: Client) -> None:
    root = new_project(tmp_path / "p")
    create_agent(client, {"name": "Bot", "conversation_config": {}, "tags": [f"{NS}:bot"]})
    create_agent(client, {"name": "Bot", "conversation_config": {}})
    result = do_pull(client, root, all=True)
    assert sorted(agents(result)) == ["bot", "bot-2"] and adopted(result) == ("bot-2",)


def test_search_pulls_matching_agents_and_no_tags(tmp_path: Path, client: Client) -> None:
    root = new_project(tmp_path / "p")
    create_agent(client, {"name": "Billing Bot", "conversation_config": {}})
    create_agent(client, {"name": "Sales Bot", "conversation_config": {}})
    result = do_pull(client, root, search="billing")
    assert agents(result) == ("billing-bot",) and tags(result) is None
    assert not (root / "tags.yaml").exists()


def test_keys_select_owned_agents_and_an_unknown_key_is_an_error(tmp_path: Path, client: Client) -> None:
    root = new_project(tmp_path / "p")
    create_agent(client, {"name": "A", "conversation_config": {}, "tags": [f"{NS}:a"]})
    create_agent(client, {"name": "B", "conversation_config": {}, "tags": [f"{NS}:b"]})
    assert agents(do_pull(client, root, keys=("b",))) == ("b",)
    assert sorted(p.name for p in (root / "agents").iterdir()) == ["b.yaml"]
    with pytest.raises(UsageError, match="team:nope"):
        do_pull(client, root, keys=("nope",))


def test_two_agents_with_one_marker_are_an_error(tmp_path: Path, client: Client) -> None:
    root = new_project(tmp_path / "p")
    for _ in range(2):
        create_agent(client, {"name": "A", "conversation_config": {}, "tags": [f"{NS}:a"]})
    with pytest.raises(IdentityError, match="team:a"):
        do_pull(client, root, all=True)
    assert not (root / "agents").exists()


def test_a_marker_that_is_not_a_safe_path_is_refused(tmp_path: Path, client: Client) -> None:
    root = new_project(tmp_path / "p")
    create_agent(client, {"name": "A", "conversation_config": {}, "tags": [f"{NS}:../../escape"]})
    with pytest.raises(PullError, match="not a safe file name"):
        do_pull(client, root, all=True)
    assert not (tmp_path / "escape.yaml").exists()


def test_dry_run_reports_and_writes_nothing(tmp_path: Path, client: Client) -> None:
    root = new_project(tmp_path / "p")
    create_agent(client, {"name": "A", "conversation_config": {}, "tags": [f"{NS}:a"]})
    result = pull(client, load_project(root), PullOptions(all=True), dry_run=True)
    assert [(f.path.as_posix(), f.action) for f in result.changed] == [
        ("agents/a.yaml", FileAction.CREATE),
    ]
    assert sorted(p.name for p in root.iterdir()) == ["agentsync.yaml"]


def test_a_failed_fetch_writes_nothing(tmp_path: Path, emulator: Emulator, client: Client) -> None:
    from agentsync.emulator import Faults

    root = new_project(tmp_path / "p")
    create_agent(client, {"name": "A", "conversation_config": {}, "tags": [f"{NS}:a"]})
    emulator.set_faults(Faults(error_rate=1.0))
    with Client(emulator.url, ADMIN_KEY, retry=_no_retry()) as failing, pytest.raises(ApiError):
        do_pull(failing, root, all=True)
    assert not (root / "agents").exists()


def _no_retry() -> Any:
    from agentsync.client import RetryPolicy

    return RetryPolicy(max_attempts=1)


# --- property: agents generated from the schema survive pull -> plan ----------------------------------

# Cross-field rules the schema does not express (language vs TTS model) stay at their defaults.
UNGENERATED = {("conversation_config", "agent", "language"), ("conversation_config", "tts", "model_id")}
ROOTS = {
    "conversation_config": "ConversationalConfigAPIModel-Input",
    "platform_settings": "AgentPlatformSettingsRequestModel",
}


def _leaves(node: dict[str, Any], path: tuple[str, ...], depth: int = 0) -> list[tuple[tuple[str, ...], Any]]:
    from agentsync import spec

    target = spec.unwrap(node).node
    if spec.is_typed_object(target) and depth < 6:
        found = []
        for key, child in target["properties"].items():
            found.extend(_leaves(child, (*path, key), depth + 1))
        return found
    strategy = _value_strategy(target)
    return [] if strategy is None or path in UNGENERATED else [(path, strategy)]


def _value_strategy(node: dict[str, Any]) -> Any:
    from hypothesis import strategies as st

    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    low, high = (
        node.get("minimum", node.get("exclusiveMinimum")),
        node.get("maximum", node.get("exclusiveMaximum")),
    )
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(
            int(low if low is not None else -5) + 1, int(high if high is not None else 500) - 1
        )
    if kind == "number" and low is not None and high is not None:
        return st.floats(float(low), float(high), exclude_min=True, exclude_max=True).map(
            lambda x: round(x, 3)
        )
    if kind == "string" and not node.get("pattern") and not node.get("format"):
        longest = min(int(node.get("maxLength", 40)), 40)
        alphabet = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(
            "\n \t#:'\""
        )
        return st.text(alphabet, min_size=max(int(node.get("minLength", 0)), 1), max_size=longest)
    return None


def _all_leaves() -> list[tuple[tuple[str, ...], Any]]:
    found = []
    for root, name in ROOTS.items():
        found.extend(_leaves({"$ref": f"#/components/schemas/{name}"}, (root,)))
    return found


LEAVES = _all_leaves()


def _nest(values: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in values.items():
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _agents() -> Any:
    from hypothesis import strategies as st

    chosen = st.lists(st.sampled_from(range(len(LEAVES))), min_size=1, max_size=8, unique=True)
    values = chosen.flatmap(lambda picks: st.fixed_dictionaries({LEAVES[i][0]: LEAVES[i][1] for i in picks}))
    name = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30)
    return st.tuples(values.map(_nest), name)


def test_generated_agents_pull_then_plan_shows_no_changes(
    emulator: Emulator, client: Client, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(agent=_agents(), full=st_booleans())
    def check(agent: tuple[dict[str, Any], str], full: bool) -> None:
        config, name = agent
        emulator.reset()
        body = {"name": name, "tags": [f"{NS}:gen"], "conversation_config": {}, **config}
        try:
            create_agent(client, body)
        except ApiError as exc:  # a value the server's own rules refuse is not a pull case
            assert exc.status in (400, 422)
            return
        root = new_project(tmp_path_factory.mktemp("gen"))
        result = do_pull(client, root, keys=("gen",), full=full, prompts_as_files=full)
        assert agents(result) == ("gen",)
        plan = plan_for(client, root)
        assert plan.changes == (), [(c.key, [f.dotted for f in c.fields]) for c in plan.changes]

    check()


def st_booleans() -> Any:
    from hypothesis import strategies as st

    return st.booleans()


def test_an_id_of_nothing_pulled_stays_raw_with_one_note(tmp_path: Path, client: Client) -> None:
    root = new_project(tmp_path / "p")
    tool = client.post(
        "/v1/convai/tools",
        {"tool_config": {"type": "client", "name": "ring_bell", "description": "Ring", "parameters": None}},
    )
    prompt = {"prompt": "Hi", "tool_ids": [tool["id"]]}
    create_agent(client, {"name": "Bell", "conversation_config": {"agent": {"prompt": prompt}}})
    # --search pulls agents only, so the tool is neither pulled nor managed.
    result = do_pull(client, root, search="Bell")
    text = (root / "agents" / "bell.yaml").read_text()
    assert f"tool_ids: [{tool['id']}]" in text
    notes = [n for n in result.notes if "belongs to no tool" in n]
    assert len(notes) == 1 and tool["id"] in notes[0], result.notes
    # --all pulls the tool too, and the agent then points at it by key.
    result = do_pull(client, new_project(tmp_path / "q"), all=True)
    text = (tmp_path / "q" / "agents" / "bell.yaml").read_text()
    assert "tool_ids: ['${tool.ring-bell.id}']" in text, text
    assert (tmp_path / "q" / "tools" / "ring-bell.yaml").is_file()
    assert not [n for n in result.notes if "belongs to no" in n]


@pytest.mark.parametrize(
    ("name", "variable"),
    [("crm-token", "CRM_TOKEN"), ("Stripe key (live)", "STRIPE_KEY_LIVE"), ("9lives", "_9LIVES")],
)
def test_a_pulled_secret_is_read_from_a_variable_named_after_it(name: str, variable: str) -> None:
    from agentsync.pulllist import env_name

    assert env_name(name) == variable


def test_a_list_entry_the_environment_leaves_out_stays(tmp_path: Path, client: Client) -> None:
    root = new_project(tmp_path / "p")
    (root / "agentsync.yaml").write_text(
        f"namespace: {NS}\nenvironments:\n  dev:\n    overrides:\n      tags: {{gone: null}}\n"
    )
    (root / "tags.yaml").write_text("# kept\n- title: gone\n- title: stale\n")
    client.post("/v1/convai/tags", {"title": "new"})
    project = load_project(root, environment="dev")
    pull(client, project, PullOptions())
    assert (root / "tags.yaml").read_text() == "# kept\n- title: gone\n- title: new\n"


@pytest.mark.parametrize("system_sync", [True, False], ids=["one-sync", "fsync-each"])
def test_write_files_flushes_every_staged_file_before_any_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, system_sync: bool
) -> None:
    import os

    flushed: list[str] = []
    renamed_after: list[int] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        flushed.append(str(fd))
        real_fsync(fd)

    def replace(source: Path, target: Path) -> None:
        renamed_after.append(len(flushed))
        real_replace(source, target)

    if system_sync:
        monkeypatch.setattr(os, "sync", lambda: flushed.append("all"))
    else:
        monkeypatch.delattr(os, "sync", raising=False)
        monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    files = {tmp_path / "a.yaml": "a: 1\n", tmp_path / "sub" / "b.yaml": "b: 2\n"}
    write_files(files)
    assert {p: p.read_text() for p in files} == files
    assert flushed == ["all"] if system_sync else len(flushed) == 2  # one sync, or one fsync a file
    assert renamed_after == [len(flushed)] * 2  # every flush came before the first rename
    assert not list(tmp_path.rglob(".*.tmp"))
