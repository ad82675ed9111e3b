"""Property: no project file, however broken, makes agentsync crash. ``validate`` and ``plan`` (against the
emulator) exit 0, 1 or 2; never print a traceback or an "unexpected" error; and an error about a file
names it as file:line:col."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fuzzing import dump
from fuzzing import values as fuzz_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentsync.cli import options, run
from agentsync.client import RetryPolicy
from agentsync.emulator import Emulator

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LOCATED = re.compile(r"agents/bot\.yaml:\d+:\d+: (error|warning): ")

BASE: dict[str, Any] = {
    "name": "Bot",
    "tags": ["support"],
    "conversation_config": {
        "agent": {
            "first_message": "Hello!",
            "language": "en",
            "prompt": {"prompt": "Be kind.", "llm": "gemini-2.5-flash", "temperature": 0.3},
        },
        "tts": {"voice_id": "cjVigY5qzO86Huf0OWal", "stability": 0.5},
        "turn": {"turn_timeout": 7},
    },
    "platform_settings": {"call_limits": {"daily_limit": 500}},
}
TYPED_PATHS = [
    ("name",),
    ("tags",),
    ("conversation_config",),
    ("conversation_config", "agent"),
    ("conversation_config", "agent", "first_message"),
    ("conversation_config", "agent", "language"),
    ("conversation_config", "agent", "prompt"),
    ("conversation_config", "agent", "prompt", "llm"),
    ("conversation_config", "agent", "prompt", "temperature"),
    ("conversation_config", "tts", "voice_id"),
    ("conversation_config", "tts", "stability"),
    ("conversation_config", "turn", "turn_timeout"),
    ("platform_settings",),
    ("platform_settings", "call_limits", "daily_limit"),
    ("workflow",),
    ("id",),
    ("conversation_config", "agent", "dynamic_variables"),
]

values = fuzz_values()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agentsync.yaml").write_text("namespace: fz\n")
    return tmp_path


def check(code: int, text: str) -> None:
    assert code in (0, 1, 2), (code, text)
    assert "Traceback" not in text and "error: unexpected " not in text, text
    if code == 1 and "bot.yaml" in text:
        assert LOCATED.search(text) or "error: " in text, text


def validate(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = run(["validate", str(root)])
    out = capsys.readouterr()
    return code, out.out + out.err


def with_value(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(BASE))
    node = doc
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return doc


@FUZZ
@given(text=st.text(max_size=300))
def test_random_text_as_an_agent_file(root: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    (root / "agents" / "bot.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    check(*validate(root, capsys))


yaml_ish = st.lists(
    st.sampled_from(
        [
            "a:",
            " b",
            "- ",
            "{",
            "}",
            "[",
            "]",
            ": ",
            "&x ",
            "*x",
            "!file ",
            "!!str ",
            "'",
            '"',
            "\n",
            "  ",
            "#",
            "? ",
            "|",
            ">",
            "---",
            "...",
            "%YAML 1.2",
            "\t",
            "name",
            "conversation_config",
            "${env.X}",
            "${var.",
            "\u00e9",
            "\U0001f600",
        ]
    ),
    max_size=40,
).map("".join)


@FUZZ
@given(text=yaml_ish)
def test_random_yaml_like_text(root: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    (root / "agents" / "bot.yaml").write_text(text, encoding="utf-8")
    check(*validate(root, capsys))


@FUZZ
@given(path=st.sampled_from(TYPED_PATHS), value=values)
def test_random_values_at_typed_paths(
    root: Path, capsys: pytest.CaptureFixture[str], path: tuple[str, ...], value: Any
) -> None:
    (root / "agents" / "bot.yaml").write_text(dump(with_value(path, value)), encoding="utf-8")
    code, text = validate(root, capsys)
    check(code, text)
    if code == 1:
        assert LOCATED.search(text), text


@FUZZ
@given(key=st.text(min_size=1, max_size=20), value=st.text(max_size=40))
def test_random_unicode_keys_and_strings(
    root: Path, capsys: pytest.CaptureFixture[str], key: str, value: str
) -> None:
    doc = with_value(("conversation_config", "agent", key), value)
    doc["name"] = value
    (root / "agents" / "bot.yaml").write_text(dump(doc), encoding="utf-8")
    check(*validate(root, capsys))


@pytest.mark.parametrize("depth", [50, 500, 5000])
@pytest.mark.parametrize("shape", ["list", "map", "flow"])
def test_deep_nesting(root: Path, capsys: pytest.CaptureFixture[str], depth: int, shape: str) -> None:
    if shape == "list":
        text = "name: Bot\nworkflow: " + "[" * depth + "]" * depth + "\n"
    elif shape == "map":
        text = "name: Bot\nworkflow:\n" + "".join(f"{' ' * (i + 1)}k{i}:\n" for i in range(min(depth, 1000)))
    else:
        text = "name: Bot\nconversation_config: " + "{a: " * depth + "1" + "}" * depth + "\n"
    (root / "agents" / "bot.yaml").write_text(text)
    code, said = validate(root, capsys)
    check(code, said)
    assert code == 1


@FUZZ
@given(path=st.sampled_from(TYPED_PATHS), value=values)
def test_plan_with_random_values_never_crashes(
    root: Path,
    emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    path: tuple[str, ...],
    value: Any,
) -> None:
    monkeypatch.setenv("ELEVENLABS_BASE_URL", emulator.url)
    monkeypatch.setenv("ELEVENLABS_API_KEY", "sk_emulator_admin")
    monkeypatch.setattr(options, "RETRY", RetryPolicy(max_attempts=1))
    (root / "agents" / "bot.yaml").write_text(dump(with_value(path, value)), encoding="utf-8")
    capsys.readouterr()
    code = run(["plan", "-C", str(root), "--detailed-exitcode", "--show-body"])
    out = capsys.readouterr()
    check(code, out.out + out.err)


SETTINGS_PATHS = [
    ("namespace",),
    ("default_environment",),
    ("safety",),
    ("safety", "max_change_share"),
    ("tags",),
    ("tags", "authoritative"),
    ("environments",),
    ("environments", "dev"),
    ("environments", "dev", "variables"),
    ("environments", "dev", "base_url"),
    ("environments", "dev", "overrides"),
    ("environments", "dev", "api_key_env"),
]


@FUZZ
@given(path=st.sampled_from(SETTINGS_PATHS), value=values, tags=values)
def test_random_settings_and_tags(
    root: Path, capsys: pytest.CaptureFixture[str], path: tuple[str, ...], value: Any, tags: Any
) -> None:
    settings_doc: dict[str, Any] = {"namespace": "fz", "environments": {"dev": {"variables": {"A": 1}}}}
    node = settings_doc
    for part in path[:-1]:
        node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
    node[path[-1]] = value
    (root / "agentsync.yaml").write_text(dump(settings_doc), encoding="utf-8")
    (root / "tags.yaml").write_text(dump(tags), encoding="utf-8")
    (root / "agents" / "bot.yaml").write_text(dump(BASE), encoding="utf-8")
    check(*validate(root, capsys))
