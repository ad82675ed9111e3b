"""Remote values on a terminal: every control character is shown, never obeyed.

An agent name, a prompt or a key from the workspace could carry ``ESC [2J`` (clear the screen), cursor
moves, an OSC title, ``\\r`` or backspaces, and draw a fake "No changes." over the real plan. Each such
character is written as its escape (``\\x1b``, ``\\r``, ``\\x9b``, ``\\u202e``), so what the reader sees is
what the value holds. Tabs are kept, and newlines where the text is meant to span lines.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the bidirectional overrides and
# isolates (which reorder what follows them on the line).
_OTHERS = "\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069"
_ONE_LINE = re.compile(f"[\x00-\x08\x0a-\x1f{_OTHERS}]")
_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHERS}]")
# The only escape sequence agentsync writes itself: Select Graphic Rendition (colour, bold, reset).
_OWN_STYLE = re.compile(r"\x1b\[[0-9;]*m")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def visible(text: str, *, newlines: bool = False) -> str:
    """``text`` with every control character but the tab written as its escape; ``newlines=True`` keeps
    ``\\n`` too, for text that is meant to span lines."""
    return (_LINES if newlines else _ONE_LINE).sub(_escape, text)


def guard(text: str) -> str:
    """Rendered output with agentsync's own colour codes kept and any other control shown: the last
    check before text reaches a terminal, for a value a renderer did not pass through :func:`visible`."""
    parts = _OWN_STYLE.split(text)
    styles = _OWN_STYLE.findall(text)
    out = [visible(parts[0], newlines=True)]
    for style, part in zip(styles, parts[1:], strict=True):
        out += [style, visible(part, newlines=True)]
    return "".join(out)
