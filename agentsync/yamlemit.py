"""A new file's YAML written directly, with the text the round-trip engine would write for it.

Pull renders every resource that has no file yet, and the round-trip engine (:mod:`agentsync.yamlwrite`)
spends about 1.5 ms of pure-Python emitting on an agent, more than its fetch costs. A new file has no
comments, anchors or quoting to keep, so its text follows from a few rules: the engine's indentation
(mappings 2, sequences 4 with the dash at 2), lists of scalars and small numeric maps in flow style,
multi-line strings as literal blocks, a string plain whenever YAML reads it back as that same string.

This writer knows only the cases whose output it is sure of and declines everything else (``None``): a
string that needs double quotes, a line long enough for the engine to wrap, a list inside a list, an
unusual character. The caller then uses the engine, so a new file's text never depends on which of the
two wrote it; ``tests/test_yamlemit.py`` compares the two over generated documents.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentsync.yamlwrite import FILE_TAG, FileRef, _literal_ok, flow_list, flow_map

_STR = "tag:yaml.org,2002:str"
_FLOAT = "tag:yaml.org,2002:float"
_INT = "tag:yaml.org,2002:int"
# Characters the engine writes as they are (with unicode allowed): anything else, a tab or a line
# break other than ``\n`` among them, sends a string to double quotes, which this writer leaves alone.
_PRINTABLE = re.compile("[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*")
_TEXT = re.compile("[\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*")
_LEADING = frozenset("#,[]{}&*!|>'\"%@`")
_FLOW = re.compile(r"[,\[\]{}]")
_LONGEST = 3000  # well under the engine's width (4096): no line of this length is ever re-wrapped
_LONGEST_KEY = 100  # the engine writes a key of 128 characters or more as a complex key


class _Decline(Exception):
    """The document holds something this writer does not write exactly as the engine would."""


def emit_new(
    content: Mapping[str, Any], base: Path, extra: dict[str, str], comment: str | None = None
) -> str | None:
    """``content`` (a plain JSON mapping, maybe holding :class:`FileRef`) as YAML text, or ``None``
    when the engine has to write it. The text of each ``!file`` lands in ``extra`` (path -> text)
    only when the whole document was written here."""
    if not content or _numbers(content):
        return None  # the engine writes these on one line, as ``{}`` or ``{x: 1}``
    lines: list[str] = [f"# {comment}"] if comment is not None else []
    found: dict[str, str] = {}
    try:
        _mapping(content, 0, lines, base, found)
    except _Decline:
        return None
    extra.update(found)
    lines.append("")
    return "\n".join(lines)


def _mapping(
    value: Mapping[Any, Any], indent: int, lines: list[str], base: Path, found: dict[str, str]
) -> None:
    pad = " " * indent
    for key, child in value.items():
        head = f"{pad}{_key(key)}:"
        if isinstance(child, FileRef):
            lines.append(f"{head} {_file(child, base, found)}")
        elif isinstance(child, Mapping):
            if not child or _numbers(child):
                lines.append(_checked(f"{head} {_flow_map(child)}"))
            else:
                lines.append(head)
                _mapping(child, indent + 2, lines, base, found)
        elif isinstance(child, (list, tuple)):
            if _flow_list(child):
                lines.append(_checked(f"{head} [{', '.join(_flow_scalar(v) for v in child)}]"))
            else:
                lines.append(head)
                _sequence(child, indent + 2, lines, base, found)
        elif isinstance(child, str) and _literal_ok(child):
            lines.append(f"{head} {_indicator(child)}")
            lines.extend(_literal_lines(child, indent + 2))
        else:
            lines.append(_checked(f"{head} {_block_scalar(child)}"))


def _sequence(items: Any, dash: int, lines: list[str], base: Path, found: dict[str, str]) -> None:
    pad = " " * dash
    for item in items:
        if isinstance(item, Mapping):
            if not item or _numbers(item):
                lines.append(_checked(f"{pad}- {_flow_map(item)}"))
                continue
            start = len(lines)
            _mapping(item, dash + 2, lines, base, found)
            lines[start] = f"{pad}- {lines[start][dash + 2 :]}"
        elif isinstance(item, (list, tuple, FileRef)) or (isinstance(item, str) and _literal_ok(item)):
            raise _Decline  # not in any file pull writes today: the engine decides
        else:
            lines.append(_checked(f"{pad}- {_block_scalar(item)}"))


def _indicator(text: str) -> str:
    """The block indicator: ``|`` keeps one final line break, ``|-`` none (more than one: declined)."""
    if not _TEXT.fullmatch(text):
        raise _Decline
    if not text.endswith("\n"):
        return "|-"
    if text.endswith("\n\n"):
        raise _Decline
    return "|"


def _literal_lines(text: str, indent: int) -> list[str]:
    pad = " " * indent
    body = text[:-1] if text.endswith("\n") else text
    return [f"{pad}{line}" if line else "" for line in body.split("\n")]


def _numbers(value: Mapping[Any, Any]) -> bool:
    """The maps the engine is told to write on one line (``{x: 0, y: 150}``): its own rule."""
    return flow_map(value)


def _flow_map(value: Mapping[Any, Any]) -> str:
    if not value:
        return "{}"
    return "{" + ", ".join(f"{_flow_key(k)}: {_number(v)}" for k, v in value.items()) + "}"


def _flow_list(items: Any) -> bool:
    """The lists the engine is told to write on one line: only scalars, strings short and on one line."""
    if any(isinstance(v, FileRef) for v in items):
        raise _Decline
    return flow_list(items)


def _checked(line: str) -> str:
    if len(line) > _LONGEST:
        raise _Decline
    return line


# --- scalars -----------------------------------------------------------------------------------------


def _key(key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > _LONGEST_KEY or not _block_plain(key):
        raise _Decline
    return key


def _flow_key(key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > _LONGEST_KEY or not _flow_plain(key):
        raise _Decline
    return key


def _block_scalar(value: Any) -> str:
    if isinstance(value, str):
        return _string(value, _block_plain(value))
    return _plain_scalar(value)


def _flow_scalar(value: Any) -> str:
    if isinstance(value, str):
        return _string(value, _flow_plain(value))
    return _plain_scalar(value)


def _string(value: str, plain: bool) -> str:
    """Plain when it may be; else single quotes; a string with a quote or a break would be double-quoted
    (with escapes) by the engine: declined."""
    if plain:
        return value
    if "'" in value or not _PRINTABLE.fullmatch(value):
        raise _Decline
    return f"'{value}'"


def _plain_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return _number(value)


def _number(value: Any) -> str:
    if isinstance(value, bool):
        raise _Decline
    if isinstance(value, int):
        text, tag = str(value), _INT
    elif isinstance(value, float):
        text, tag = repr(value).lower(), _FLOAT
    else:
        raise _Decline
    if _resolve(text) != tag:
        raise _Decline  # nan, inf: the engine's own spellings
    return text


def _file(ref: FileRef, base: Path, found: dict[str, str]) -> str:
    if not _block_plain(ref.relative):
        raise _Decline
    found[os.path.normpath(base / ref.relative)] = ref.content
    return f"{FILE_TAG} {ref.relative}"


def _block_plain(text: str) -> bool:
    return _plain(text)[0]


def _flow_plain(text: str) -> bool:
    return _plain(text)[1]


@functools.lru_cache(maxsize=8192)  # field names and enum values repeat in every file
def _plain(text: str) -> tuple[bool, bool]:
    """Whether the engine writes ``text`` unquoted, in block context and in a flow list: it must read
    back as this same string, and no indicator may give it another meaning (``- x`` starts a list item
    in a block, ``a, b`` is two items in a flow list, ``a: b`` and ``a #b`` mean the same in both)."""
    if not text or not _PRINTABLE.fullmatch(text) or text[0] == " " or text[-1] == " ":
        return False, False
    first, spaced = text[0], len(text) == 1 or text[1] == " "
    both = (
        first in _LEADING
        or text.startswith(("---", "..."))
        or (first == "-" and spaced)
        or ": " in text[1:]
        or (len(text) > 1 and text.endswith(":"))
        or " #" in text
    )
    block = not (both or (first in "?:" and spaced))
    flow = not (both or (first in "?:" and len(text) == 1) or _FLOW.search(text, 1))
    if (block or flow) and _resolve(text) != _STR:
        return False, False
    return block, flow


@functools.cache
def _resolver() -> tuple[Any, Any]:
    """The engine's resolver and its node class, its tables built once (threads only read them)."""
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    resolver = VersionedResolver()
    resolver.resolve(ScalarNode, "warm", (True, False))
    return resolver, ScalarNode


def _resolve(text: str) -> str:
    """The tag the engine's resolver gives ``text`` unquoted (``true`` is a bool, ``1.5`` a float)."""
    resolver, node = _resolver()
    return str(resolver.resolve(node, text, (True, False)))
