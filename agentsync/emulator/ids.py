"""Identifiers in the formats the real API uses (``agent_`` + 28 characters of [0-9a-z], ...)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.digits + string.ascii_lowercase


_FAIR = 256 - 256 % len(_ALPHABET)  # bytes below this map onto the alphabet evenly
_TO_ALPHABET = bytes(ord(_ALPHABET[b % len(_ALPHABET)]) for b in range(256))
_UNFAIR = bytes(range(_FAIR, 256))


def _random_chars(count: int) -> str:
    """``count`` characters of the alphabet, from one read of the system's randomness (a read per
    character made id generation a third of the emulator's CPU under load); the bytes that would
    favour some characters are dropped, and the rest are mapped in one pass."""
    chars = b""
    while len(chars) < count:
        chars += secrets.token_bytes(count + 8).translate(_TO_ALPHABET, _UNFAIR)
    return chars[:count].decode("ascii")


def agent_id() -> str:
    return "agent_" + _random_chars(28)


def version_id() -> str:
    return "agtvrsn_" + _random_chars(28)


def branch_id() -> str:
    return "agtbrch_" + _random_chars(28)


def tag_id() -> str:
    # The spec does not fix a tag id format; an opaque id with its own prefix keeps logs readable.
    return "ctag_" + _random_chars(24)


def request_id() -> str:
    return _random_chars(32)


def tool_id() -> str:
    return "tool_" + _random_chars(28)


def mcp_server_id() -> str:
    # The spec does not fix an MCP server id format; a prefix of its own keeps logs readable.
    return "mcp_" + _random_chars(28)


def secret_id() -> str:
    # The spec does not fix a secret id format; a prefix of its own keeps logs readable.
    return "secret_" + _random_chars(24)


def env_var_id() -> str:
    return "envvar_" + _random_chars(24)


def phone_number_id() -> str:
    return "phnum_" + _random_chars(24)


def test_id() -> str:
    # The spec does not fix the id formats of tests, invocations and runs; prefixes keep logs readable.
    return "test_" + _random_chars(28)


def test_invocation_id() -> str:
    return "suite_" + _random_chars(28)


def test_run_id() -> str:
    return "run_" + _random_chars(28)
