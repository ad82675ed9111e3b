"""The plan as a pull-request comment: a summary table, then one collapsible section per resource.

GitHub refuses comments over 65,536 characters, so the output stops adding sections before
``limit`` and says plainly how many resources it left out.
"""

from __future__ import annotations

import html
import re
from typing import Any

from agentsync.plan import ABSENT, Change, FieldChange, Plan
from agentsync.render import common

LIMIT = 65_000
# Room kept for the truncation note, so the note itself never pushes the comment over the limit.
NOTE_ROOM = 400


def render(plan: Plan, *, limit: int = LIMIT, show_body: bool = False) -> str:
    """The comment text, never longer than ``limit`` characters."""
    changes = common.ordered(plan)
    head = _head(plan) + "".join(f"> **Warning:** {_inline(w)}\n\n" for w in plan.warnings)
    table = _table(changes) if changes else ""
    return _fit(head, table, [_section(change, show_body, plan.namespace) for change in changes], limit)


def _head(plan: Plan) -> str:
    env = f"`{plan.environment}`" if plan.environment else "default environment"
    return f"### agentsync plan: {env}, namespace `{plan.namespace}`, API {_code(plan.base_url)}\n\n**{common.summary(plan)}**\n\n"


def _fit(head: str, table: str, sections: list[str], limit: int) -> str:
    budget = limit - NOTE_ROOM
    if len(head) + len(table) > budget:
        return head + _note(len(sections), len(sections), with_table=True)
    text = head + table
    for shown, section in enumerate(sections):
        if len(text) + len(section) > budget:
            return text + _note(len(sections) - shown, len(sections), with_table=False)
        text += section
    return text


def _note(missing: int, total: int, *, with_table: bool) -> str:
    what = "the summary table and " if with_table else ""
    return (
        f"> **Note:** this plan is too long for one comment; {what}{missing} of {total} resources are "
        f"not shown. Run `agentsync plan` locally or use `--format json` for the whole plan.\n"
    )


def _table(changes: list[Change]) -> str:
    rows = ["| | Action | Kind | Key | Name | Fields |", "|---|---|---|---|---|---|"]
    for change in changes:
        name = _cell(change.name) if change.name else ""
        rows.append(
            f"| {common.SYMBOLS[change.action]} | {change.action.value} | {change.kind} "
            f"| {_code(change.key)} | {name} | {len(change.fields)} |"
        )
    return "\n".join(rows) + "\n\n"


def _section(change: Change, show_body: bool, namespace: str) -> str:
    symbol = common.SYMBOLS[change.action]
    summary = html.escape(f"{symbol} {change.action.value} {common.title(change)}")
    parts = [f"<details><summary>{summary}</summary>\n\n"]
    if change.source is not None:
        parts.append(f"Defined in {_code(str(change.source))}.\n\n")
    parts.append(_fields(change.fields))
    parts += [f"{html.escape(note[0].upper() + note[1:])}.\n\n" for note in common.notes(change, namespace)]
    if show_body:
        parts.append(_body(change))
    parts.append("</details>\n\n")
    return "".join(parts)


def _fields(declared: tuple[FieldChange, ...]) -> str:
    fields = [leaf for field in declared for leaf in common.expand(field)]
    plain = [f for f in fields if not common.is_multiline(f)]
    text = ""
    if plain:
        rows = ["| Field | Old | New |", "|---|---|---|"]
        rows += [f"| {_code(f.dotted)} | {_value(f, f.old)} | {_value(f, f.new)} |" for f in plain]
        text += "\n".join(rows) + "\n\n"
    for field in fields:
        if common.is_multiline(field):
            text += f"{_code(field.dotted)}:\n\n" + _fence("diff", "\n".join(common.line_diff(field)))
    return text


def _value(field: FieldChange, value: Any) -> str:
    shown = common.masked_side(field, value)
    if shown is ABSENT:
        return "*(absent)*"
    return _code(common.display(shown))


def _body(change: Change) -> str:
    body = common.body_text(change)
    text = f"Request: {_code(common.request_line(change))}\n\n"
    return text + (_fence("json", body) if body is not None else "")


def _fence(language: str, content: str) -> str:
    """A fenced block that no backtick run inside ``content`` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{content}\n{fence}\n\n"


def _cell(text: str) -> str:
    """Text that cannot break a table row or inject markup."""
    return html.escape(text, quote=False).replace("|", "&#124;").replace("\n", " ").replace("`", "&#96;")


def _code(text: str) -> str:
    return f"<code>{_cell(text)}</code>"


def _inline(text: str) -> str:
    return html.escape(text, quote=False).replace("\n", " ")
