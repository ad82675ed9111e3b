"""The plan for a terminal: one block per resource, changed paths with old → new, a closing summary.

Colour is the caller's decision (a TTY and no NO_COLOR); the renderer only returns a string. Every line
goes through the painter, which shows the control characters of remote values (``terminal.visible``)
before it adds agentsync's own colours, so that no value can move the cursor or clear the screen.
"""

from __future__ import annotations

import json
from typing import Any

import click

from agentsync.plan import ABSENT, Action, Change, FieldChange, Plan
from agentsync.render import common, terminal

COLOURS: dict[Action, str] = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.ADOPT: "cyan",
    Action.DELETE: "red",
}
INDENT = "    "
# A container value longer than this is shown as indented JSON on its own lines.
INLINE_WIDTH = 100


def render(plan: Plan, *, color: bool = False, show_body: bool = False) -> str:
    """The whole plan as text, ending with the summary line and a newline."""
    paint = _Painter(color)
    lines = [paint(f"agentsync plan: {common.header(plan)}", bold=True), ""]
    for change in common.ordered(plan):
        lines += _block(change, paint, show_body, plan.namespace)
        lines.append("")
    lines += [paint(f"Warning: {w}", fg="yellow") for w in plan.warnings]
    lines += [paint(f"Error: {e}", fg="red", bold=True) for e in plan.errors]
    lines.append(paint(common.summary(plan), bold=True))
    return "\n".join(lines) + "\n"


class _Painter:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, fg: str | None = None, bold: bool = False) -> str:
        text = terminal.visible(text)
        return click.style(text, fg=fg, bold=bold) if self.enabled else text

    def plain(self, text: str) -> str:
        return terminal.visible(text)


def _block(change: Change, paint: _Painter, show_body: bool, namespace: str) -> list[str]:
    symbol = common.SYMBOLS[change.action]
    head = f"{symbol} {change.action.value} {common.title(change)}"
    if change.source is not None:
        head += f"  [{change.source}]"
    lines = [paint(head, fg=COLOURS[change.action], bold=True)]
    for leaf in common.leaves(change):
        lines += _field_lines(leaf, paint)
    lines += [paint.plain(f"{INDENT}! {note}") for note in common.notes(change, namespace)]
    if show_body:
        lines += [paint.plain(line) for line in _body_lines(change)]
    return lines


def _field_lines(field: FieldChange, paint: _Painter) -> list[str]:
    if common.is_multiline(field):
        symbol = "+" if field.old is ABSENT else "-" if field.new is ABSENT else "~"
        return [
            paint.plain(f"{INDENT}{symbol} {field.dotted}:"),
            *(_diff_line(line, paint) for line in common.line_diff(field)),
        ]
    old = common.masked_side(field, field.old)
    new = common.masked_side(field, field.new)
    if old is ABSENT:
        return _valued(f"{INDENT}+ {field.dotted}: ", new, paint, "green")
    if new is ABSENT:
        return _valued(f"{INDENT}- {field.dotted}: ", old, paint, "red")
    if _is_long(old) or _is_long(new):
        lines = [f"{INDENT}~ {field.dotted}:", *_long(f"{INDENT}  - ", old), *_long(f"{INDENT}  + ", new)]
        return [paint.plain(line) for line in lines]
    return [paint.plain(f"{INDENT}~ {field.dotted}: {common.display(old)} → {common.display(new)}")]


def _valued(prefix: str, value: Any, paint: _Painter, fg: str) -> list[str]:
    lines = _long(prefix, value) if _is_long(value) else [prefix + common.display(value)]
    return [paint(line, fg=fg) for line in lines]


def _is_long(value: Any) -> bool:
    return isinstance(value, (dict, list)) and len(common.display(value)) > INLINE_WIDTH


def _long(prefix: str, value: Any) -> list[str]:
    if not _is_long(value):
        return [prefix + common.display(value)]
    text = json.dumps(value, indent=2, ensure_ascii=False).splitlines()
    pad = " " * (len(prefix) - len(prefix.lstrip()) + 2)
    return [prefix + text[0], *(pad + line for line in text[1:])]


def _diff_line(line: str, paint: _Painter) -> str:
    fg = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1])
    return paint(f"{INDENT}    {line}", fg=fg)


def _body_lines(change: Change) -> list[str]:
    lines = [f"{INDENT}request: {common.request_line(change)}"]
    body = common.body_text(change)
    if body is not None:
        lines += [f"{INDENT}  {line}" for line in body.splitlines()]
    return lines
