"""The direct writer of new files may decline a document, never write it differently: wherever it
writes, its text is byte for byte the round-trip engine's. Checked on every agent the example project
pulls, on hand-picked hostile strings, and on generated documents; and what it writes reads back as
exactly the values it was given (a remote string never turns into structure)."""

from __future__ import annotations

import math
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from agentsync import yamlemit
from agentsync.emulator import ADMIN_KEY, Emulator
from agentsync.values import same
from agentsync.yamlwrite import FileRef, dump, to_yaml

BASE = Path("/project/agents")


def engine_text(content: Any, comment: str | None = None) -> tuple[str, dict[str, str]]:
    extra: dict[str, str] = {}
    document = to_yaml(content, extra, BASE)
    if comment is not None:
        document.yaml_set_start_comment(comment)
    return dump(document), extra


def check(content: Any, comment: str | None = None) -> bool:
    """Assert agreement; True when the direct writer wrote the document itself."""
    extra: dict[str, str] = {}
    text = yamlemit.emit_new(content, BASE, extra, comment)
    expected, expected_extra = engine_text(content, comment)
    if text is None:
        assert extra == {}, "a declined document leaves no included files behind"
        assert same(_nan_named(read_back(expected)), _nan_named(plain(content))), (
            "the engine's text reads back"
        )
        return False
    assert text == expected
    assert extra == expected_extra
    assert same(read_back(text), plain(content))  # a remote value stays data: nothing reads as structure
    return True


def _nan_named(value: Any) -> Any:
    # NaN is the one value not equal to itself; named, it compares like any other.
    if isinstance(value, float) and math.isnan(value):
        return "<NaN>"
    if isinstance(value, dict):
        return {k: _nan_named(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_named(v) for v in value]
    return value


def read_back(text: str) -> Any:
    reader = YAML(typ="safe")
    reader.constructor.add_constructor("!file", lambda loader, node: {"!file": node.value})
    return reader.load(text)


def plain(value: Any) -> Any:
    if isinstance(value, FileRef):
        return {"!file": value.relative}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


AGENT = {
    "name": "Support Bot",
    "tags": ["support", "team-1", "it's fine"],
    "conversation_config": {
        "agent": {
            "first_message": "Hello! How can I help you today?",
            "language": "en",
            "prompt": {
                "prompt": "You are helpful.\n\n  Indented line.\nLast line",
                "llm": "gemini-2.5-flash",
                "temperature": 0.3,
                "tool_ids": ["${tool.lookup.id}"],
            },
        },
        "tts": {"voice_id": "cjVigY5qzO86Huf0OWal", "stability": 0.5, "speed": 1.0},
        "turn": {"turn_timeout": 7, "mode": "turn"},
        "vad": {},
    },
    "platform_settings": {
        "call_limits": {"daily_limit": 500, "agent_concurrency_limit": -1},
        "widget": {"position": {"x": 0, "y": 150}},
        "evaluation": {
            "criteria": [
                {"id": "solved", "name": "Solved", "conversation_goal_prompt": "Was it solved?\nSay yes."},
                {"id": "polite", "name": "Polite: yes or no", "type": "prompt"},
            ]
        },
        "data_collection": {"email": {"type": "string", "description": "The caller's e-mail"}},
    },
    "workflow": {"nodes": {"start": {"type": "start", "position": {"x": 0.5, "y": -2}, "edge_order": []}}},
    "id": "agent_01jz",
}


def test_a_realistic_agent_is_written_directly_and_exactly() -> None:
    assert check(AGENT)
    assert check(AGENT, "yaml-language-server: $schema=../schemas/agent.schema.json")


def test_an_included_prompt_is_written_as_a_file_tag_and_collected() -> None:
    content = {
        "name": "A",
        "conversation_config": {"agent": {"prompt": {"prompt": FileRef("../prompts/a.md", "hi\n")}}},
    }
    assert check(content)
    extra: dict[str, str] = {}
    text = yamlemit.emit_new(content, BASE, extra)
    assert text is not None and "prompt: !file ../prompts/a.md" in text
    assert extra == {"/project/prompts/a.md": "hi\n"}


HOSTILE = [
    "",
    " ",
    " lead",
    "trail ",
    "true",
    "True",
    "yes",
    "no",
    "null",
    "~",
    "1",
    "1.5",
    "0x1f",
    "1_000",
    "1e3",
    ".inf",
    "2024-01-01",
    "12:30",
    "<<",
    "=",
    "-",
    "- x",
    "-x",
    "?",
    "? x",
    ":",
    ":x",
    "a: b",
    "a:b",
    "a:",
    "a #b",
    "a#b",
    "#x",
    "---",
    "...",
    "--- x",
    "a, b",
    "[x]",
    "{x}",
    "x]",
    "&a",
    "*a",
    "!tag",
    "|",
    ">",
    "'q'",
    '"q"',
    "it's",
    "%x",
    "@x",
    "`x",
    "tab\there",
    "nul\x00",
    "bell\x07",
    "nel\x85",
    "ls\u2028",
    "bom\ufeff",
    "héllo wörld",
    "emoji 🎉",
    "line\n",
    "line\nline",
    "two\n\n",
    "\nlead break",
    "sp \nbreak",
    "a\n b",
    "crlf\r\n",
    "x" * 3500,
    # written into a file from a remote body: none may read back as anything but this string
    "x\n---\ny",
    "key: |\n  z",
    "a\n- b\n- c",
    "{a: 1}",
    "[1, 2]",
    "!!python/object:os.system",
    "&anchor x",
    "*alias",
    "<<: *alias",
    "\x1b[31mred\x1b[0m",
    "right\u202eleft",
    "${env.API_KEY}",
    "word " * 900,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_strings_as_values_keys_and_list_items(text: str) -> None:
    check({"value": text})
    check({"nested": {"value": text}})
    check({"items": [text, "b"]})
    check({"items": [{"name": text, "other": text}]})
    check({"items": [text, "b" * 70]})
    check({text: 1} if text else {"k": 1})
    check({"flow": {text: 1}} if text else {"k": 1})


def test_numbers_and_constants() -> None:
    for value in (
        0,
        -1,
        10**30,
        0.0,
        -0.0,
        0.3,
        1e-05,
        1e20,
        1.5e300,
        float("inf"),
        float("nan"),
        True,
        None,
    ):
        check({"value": value, "list": [value, 1], "map": {"x": value}})


def test_what_it_declines_it_leaves_to_the_engine() -> None:
    declined = [
        {"value": "tab\there"},
        {"value": "it's: here"},
        {"value": "x" * 3500},
        {"list": [[1, 2], [3]]},
        {"list": [FileRef("a.md", "x")]},
        {"list": ["a\nb c", "multi\nline"]},
        {},
    ]
    for content in declined:
        assert not check(content)


# --- generated documents -----------------------------------------------------------------------------

ALPHABET = string.ascii_letters + string.digits + " -_:#,.'\"[]{}!&*|>%@`?~=<\n\t" + "éü🎉\u2028"
# Mostly characters the direct writer handles, so that most documents are written by both.
FRIENDLY = string.ascii_letters + string.digits + "     -_:#,.[]{}!&*|>%@`?~=<éü🎉"
texts = st.one_of(
    st.text(alphabet=FRIENDLY, max_size=30),
    st.text(alphabet=FRIENDLY + "\n", max_size=60),
    st.text(alphabet=ALPHABET, max_size=40),
    st.sampled_from(HOSTILE[:60]),
    st.from_regex(r"[a-z][a-z_]{0,12}", fullmatch=True),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
# Keys are mostly field names (hostile keys have their own test above).
keys = st.one_of(
    st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True),
    st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_ .-]{0,10}", fullmatch=True),
    st.text(alphabet=FRIENDLY, max_size=12),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=4),
    ),
    max_leaves=25,
)
documents = st.dictionaries(keys, values, min_size=1, max_size=6)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.one_of(st.none(), st.just("yaml-language-server: $schema=../schemas/x.json")))
def test_generated_documents_agree_with_the_engine(content: dict[str, Any], comment: str | None) -> None:
    check(content, comment)


def test_the_generated_documents_are_mostly_written_directly() -> None:
    """Agreement proven only on declined documents would prove nothing."""
    written = []

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(documents)
    def count(content: dict[str, Any]) -> None:
        written.append(check(content))

    count()
    assert sum(written) >= len(written) / 8, f"only {sum(written)} of {len(written)} written directly"


def test_pull_writes_the_example_workspace_directly(
    api_env: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everything the example project applies, pulled into a new project, is written by the direct
    writer (the engine only for what it declines, and nothing here needs that), with the same bytes."""
    import shutil

    from agentsync import pullfolder
    from agentsync.cli import run

    example = Path(__file__).resolve().parent.parent / "examples" / "support-desk"
    source = tmp_path / "source"
    shutil.copytree(example, source, ignore=shutil.ignore_patterns(".agentsync"))
    monkeypatch.setenv("ELEVENLABS_API_KEY_DEV", ADMIN_KEY)
    monkeypatch.setenv("NORTHWIND_CRM_TOKEN", "crm-token-7f3a9c1e")
    assert run(["apply", "-C", str(source), "--auto-approve", "-e", "dev", "--allow-base-url-override"]) == 0
    answers: list[tuple[Any, str | None, str | None]] = []
    real = yamlemit.emit_new

    def recorded(content: Any, base: Path, extra: dict[str, str], comment: str | None = None) -> str | None:
        text = real(content, base, extra, comment)
        answers.append((content, comment, text))
        return text

    monkeypatch.setattr(pullfolder, "emit_new", recorded)
    target = tmp_path / "pulled"
    assert run(["init", str(target)]) == 0
    assert run(["pull", "-C", str(target), "--all", "--allow-base-url-override"]) == 0
    assert len(answers) >= 6  # agents, tools, tests, an MCP server
    assert [content for content, _, text in answers if text is None] == []
    for content, comment, text in answers:
        assert comment is not None  # init wrote the schemas: every file points at its own
        assert text == engine_text(content, comment)[0]


def test_a_pulled_list_with_colons_and_question_marks_loads_back_as_those_strings(
    api_env: Emulator, tmp_path: Path
) -> None:
    """ruamel writes ``[12:30, why?]`` unquoted; the loader's parser ends a plain scalar there."""
    from agentsync.cli import run
    from agentsync.client import Client
    from agentsync.load import load_project

    tags = ["support", "why?", "? x"]  # a tag with a colon would read as a project's marker
    keywords = ["12:30", "a:b", "why?", "plain"]
    body = {"name": "Desk", "tags": tags, "conversation_config": {"asr": {"keywords": keywords}}}
    with Client(api_env.url, ADMIN_KEY) as client:
        client.post("/v1/convai/agents/create", body)
    root = tmp_path / "p"
    assert run(["init", str(root)]) == 0
    assert run(["pull", "-C", str(root), "--all", "--allow-base-url-override"]) == 0
    project = load_project(root)
    (definition,) = project.definitions["agent"].values()
    assert definition.config["tags"] == tags
    assert definition.config["conversation_config"]["asr"]["keywords"] == keywords


def test_a_pulled_nel_stays_a_nel_in_new_and_edited_files(api_env: Emulator, tmp_path: Path) -> None:
    """The emitter took NEL (U+0085) for a line break: 'a\\x85b' came back as 'a b'."""
    from agentsync.cli import run
    from agentsync.client import Client
    from agentsync.load import load_project

    greeting, prompt = "Hi\x85there", "Line one\nLine\x85two\n"
    body = {
        "name": "Desk",
        "conversation_config": {"agent": {"first_message": greeting, "prompt": {"prompt": prompt}}},
    }
    with Client(api_env.url, ADMIN_KEY) as client:
        agent_id = client.post("/v1/convai/agents/create", body)["agent_id"]
    root = tmp_path / "p"
    assert run(["init", str(root)]) == 0
    assert run(["pull", "-C", str(root), "--all", "--allow-base-url-override"]) == 0

    def agent() -> Any:
        (definition,) = load_project(root).definitions["agent"].values()
        return definition.config["conversation_config"]["agent"]

    assert (agent()["first_message"], agent()["prompt"]["prompt"]) == (greeting, prompt)
    with Client(api_env.url, ADMIN_KEY) as client:  # an edit of the file now holding it
        client.patch(
            f"/v1/convai/agents/{agent_id}", {"conversation_config": {"agent": {"first_message": "x\x85"}}}
        )
    assert run(["pull", "-C", str(root), "--allow-base-url-override"]) == 0
    assert agent()["first_message"] == "x\x85"
    assert agent()["prompt"]["prompt"] == prompt
