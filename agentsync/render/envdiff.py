"""``agentsync diff`` as text, Markdown and JSON. The left environment's values are the old side (``-``),
the right one's the new side (``+``): the reading of a promotion from left to right. Field lines are the
plan's own (text and Markdown), so values, line diffs and whitespace markers read the same as in a plan."""

from __future__ import annotations

import json
from typing import Any

from agentsync.envdiff import Difference, EnvDiff
from agentsync.plan import ABSENT, FieldChange
from agentsync.render import common
from agentsync.render.markdown import cell_value, fence
from agentsync.render.markdown import inline_code as _code
from agentsync.render.text import _field_lines, _Painter

FORMAT_VERSION = 1
# GitHub refuses a comment over 65,536 characters; the room is kept for the note that says what was cut.
LIMIT = 65_000
NOTE_ROOM = 400


def _what(diff: EnvDiff) -> str:
    return "live workspaces" if diff.live else "resolved definitions, offline"


def summary(diff: EnvDiff) -> str:
    if not diff.has_differences:
        return f"No differences between {diff.left} and {diff.right} ({diff.same} the same)."
    count = len(diff.differences)
    noun = "resource differs" if count == 1 else "resources differ"
    return f"{count} {noun} between {diff.left} and {diff.right} ({diff.same} the same)."


def _symbol(diff: EnvDiff, item: Difference) -> str:
    if item.only_in is None:
        return "~"
    return "-" if item.only_in == diff.left else "+"


def _title(diff: EnvDiff, item: Difference) -> str:
    title = f"{item.kind} {item.key}"
    return title if item.only_in is None else f"{title} (only in {item.only_in})"


def text(diff: EnvDiff, *, color: bool = False) -> str:
    paint = _Painter(color)
    head = f"agentsync diff: {diff.left} → {diff.right} · {_what(diff)} (- {diff.left}, + {diff.right})"
    lines = [paint(head, bold=True), ""]
    colours = {"~": "yellow", "-": "red", "+": "green"}
    for item in diff.differences:
        symbol = _symbol(diff, item)
        lines.append(paint(f"{symbol} {_title(diff, item)}", fg=colours[symbol], bold=True))
        for field in item.fields:
            for leaf in common.expand(field):
                lines += _field_lines(leaf, paint)
        lines.append("")
    lines.append(paint(summary(diff), bold=True))
    return "\n".join(lines) + "\n"


def markdown(diff: EnvDiff, *, limit: int = LIMIT) -> str:
    """The diff for a pull-request comment, cut between resources to stay under ``limit`` characters."""
    out = f"### agentsync diff: {_code(diff.left)} → {_code(diff.right)} ({_what(diff)})\n\n"
    out += f"**{summary(diff)}**\n\n"
    sections = [_section(diff, item) for item in diff.differences]
    for shown, section in enumerate(sections):
        if len(out) + len(section) > limit - NOTE_ROOM:
            left = len(sections) - shown
            return out + (
                f"*{left} more {'resource is' if left == 1 else 'resources are'} not shown here, to stay "
                "under GitHub's comment size; `agentsync diff --format json` lists them all.*\n"
            )
        out += section
    return out


def _section(diff: EnvDiff, item: Difference) -> str:
    head = f"#### {_symbol(diff, item)} {item.kind} {_code(item.key)}"
    head += f" (only in {_code(item.only_in)})\n\n" if item.only_in else "\n\n"
    return head + _fields(diff, item.fields)


def _fields(diff: EnvDiff, declared: tuple[FieldChange, ...]) -> str:
    fields = [leaf for field in declared for leaf in common.expand(field)]
    plain = [f for f in fields if not common.is_multiline(f)]
    out = ""
    below: list[tuple[FieldChange, str, Any]] = []
    if plain:
        rows = [
            f"| Field | {_code(diff.left, cell=True)} | {_code(diff.right, cell=True)} |",
            "|---|---|---|",
        ]
        rows += [
            f"| {_code(f.dotted, cell=True)} | {cell_value(f, f.old, diff.left, below)} | "
            f"{cell_value(f, f.new, diff.right, below)} |"
            for f in plain
        ]
        out += "\n".join(rows) + "\n\n"
    # A long value would stretch its cell across the page: it is shown under the table, as in a plan.
    for field, side, shown in below:
        text = json.dumps(shown, indent=2, ensure_ascii=False)
        out += f"{_code(field.dotted)} ({_code(side)}):\n\n" + fence("json", text)
    for field in fields:
        if common.is_multiline(field):
            out += f"{_code(field.dotted)} (- {_code(diff.left)}, + {_code(diff.right)}):\n\n"
            out += fence("diff", "\n".join(common.line_diff(field)))
    return out


def document(diff: EnvDiff) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "left": diff.left,
        "right": diff.right,
        "live": diff.live,
        "summary": {"differ": len(diff.differences), "same": diff.same},
        "resources": [_resource(item) for item in diff.differences],
    }


def _resource(item: Difference) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "key": item.key,
        "only_in": item.only_in,
        "fields": [_field(f) for f in item.fields],
    }


def _field(field: FieldChange) -> dict[str, Any]:
    out: dict[str, Any] = {"path": list(field.path)}
    for side, value in (("left", field.old), ("right", field.new)):
        shown = common.masked_side(field, value)
        if shown is not ABSENT:
            out[side] = shown
    return out


def as_json(diff: EnvDiff) -> str:
    return json.dumps(document(diff), indent=2, ensure_ascii=False) + "\n"
