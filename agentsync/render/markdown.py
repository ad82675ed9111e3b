"""The plan as a pull-request comment: a summary table, then one collapsible section per resource.

GitHub refuses comments over 65,536 characters, so the output stops adding sections before
``limit`` and says plainly how many resources it left out.

Every value that comes from data (names, keys, ids, paths, prompts, notes, warnings) is untrusted: the
comment is posted from CI on pull requests. Data reaches the comment in exactly three ways:
- as text (``_text``): control characters shown as escapes (``terminal.visible``), then each character
  that can open inline markup (backslash, backtick, ``* _ [ ] ! < > & | ~ $``) backslash-escaped, which
  CommonMark renders as the character itself; so no link, image, emphasis, HTML, entity, math or table
  cell can start from data (``\\|`` is GFM's escaped pipe). Data never starts a line, so no block can;
- as code (``_code``): a code span whose backtick fence is longer than any backtick run in the value.
  Inside a code span nothing is Markdown and nothing is HTML, which ``<code>`` does not give: GitHub
  parses Markdown between HTML tags, so ``<code>[x](y)</code>`` is a link. In a table cell each ``|`` is
  written ``\\|`` (GFM removes the backslash inside code spans there); newlines are shown as ``\\n``;
- as a fenced block (``fence``): a fence longer than any backtick run inside, controls but newline and
  tab shown.
The ``<summary>`` line of each section is an HTML block (no Markdown is parsed in it): HTML-escaped, with
controls shown so that no newline can end the block.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from agentsync.plan import ABSENT, Change, FieldChange, Plan
from agentsync.render import common, terminal

LIMIT = 65_000
# Room kept for the truncation note, so the note itself never pushes the comment over the limit.
NOTE_ROOM = 400
# One warning (or error) is cut to about this many characters in the comment; the warnings together
# take at most a quarter of it.
WARNING_CHARS = 3_000
# A value longer than this leaves its table cell (which says "below") for a block under the table.
CELL_CHARS = 80


def render(plan: Plan, *, limit: int = LIMIT, show_body: bool = False) -> str:
    """The comment text, never longer than ``limit`` characters."""
    changes = common.ordered(plan)
    head = _head(plan) + "".join(f"> **Error:** {_text(_cut(e))}\n\n" for e in plan.errors)
    head += _warnings(plan.warnings, limit // 4)
    table = _table(changes) if changes else ""
    return _fit(head, table, [_section(change, show_body, plan.namespace) for change in changes], limit)


def _warnings(warnings: tuple[str, ...], budget: int) -> str:
    """The warnings, each cut to ``WARNING_CHARS`` and all of them to ``budget`` characters, saying
    what was cut: a list of 2,000 kept resources must not push the plan out of the comment."""
    text = ""
    for shown, warning in enumerate(warnings):
        line = f"> **Warning:** {_text(_cut(warning))}\n\n"
        if len(text) + len(line) > budget:
            left = len(warnings) - shown
            return text + (
                f"> **Note:** {left} more warning{'s are' if left != 1 else ' is'} not shown, to keep the "
                "comment under GitHub's size limit; `agentsync plan` shows every one.\n\n"
            )
        text += line
    return text


def _cut(text: str, room: int = 0) -> str:
    """``text`` cut to about ``WARNING_CHARS`` characters at a list separator, saying how much is cut."""
    room = room or WARNING_CHARS
    if len(text) <= room:
        return text
    end = text.rfind(", ", 0, room)
    end = end if end > room // 2 else room
    return (
        f"{text[:end]} … (cut here: {len(text) - end:,} more characters; `agentsync plan` or "
        "`--format json` shows the whole text)"
    )


def _head(plan: Plan) -> str:
    env = common.environments(plan, _code)
    return (
        f"### agentsync plan: {env}, namespace {_code(plan.namespace)}, API {_code(plan.base_url)}\n\n"
        f"**{common.summary(plan)}**\n\n"
    )


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
        name = _text(change.name) if change.name else ""
        rows.append(
            f"| {common.SYMBOLS[change.action]} | {change.action.value} | {change.kind} "
            f"| {_code(change.key, cell=True)} | {name} | {len(change.fields)} |"
        )
    return "\n".join(rows) + "\n\n"


def _section(change: Change, show_body: bool, namespace: str) -> str:
    symbol = common.SYMBOLS[change.action]
    summary = html.escape(terminal.visible(f"{symbol} {change.action.value} {common.title(change)}"))
    parts = [f"<details><summary>{summary}</summary>\n\n"]
    if change.source is not None:
        parts.append(f"Defined in {_code(str(change.source))}.\n\n")
    parts.append(_fields(common.leaves(change)))
    parts += [f"{_text(note[0].upper() + note[1:])}.\n\n" for note in common.notes(change, namespace)]
    if show_body:
        parts.append(_body(change))
    parts.append("</details>\n\n")
    return "".join(parts)


def _fields(fields: list[FieldChange]) -> str:
    plain = [f for f in fields if not common.is_multiline(f)]
    text = ""
    below: list[tuple[FieldChange, str, Any]] = []
    if plain:
        rows = ["| Field | Old | New |", "|---|---|---|"]
        rows += [
            f"| {_code(f.dotted, cell=True)} | {cell_value(f, f.old, 'old', below)} | {cell_value(f, f.new, 'new', below)} |"
            for f in plain
        ]
        text += "\n".join(rows) + "\n\n"
    # A long value would stretch its table cell across the page: it is shown under the table instead.
    for field, side, shown in below:
        text += f"{_code(field.dotted)} ({side}):\n\n" + fence(
            "json", json.dumps(shown, indent=2, ensure_ascii=False)
        )
    for field in fields:
        if common.is_multiline(field):
            text += f"{_code(field.dotted)}:\n\n" + fence("diff", "\n".join(common.line_diff(field)))
    return text


def cell_value(field: FieldChange, value: Any, side: str, below: list[tuple[FieldChange, str, Any]]) -> str:
    shown = common.masked_side(field, value)
    if shown is ABSENT:
        return "*(absent)*"
    text = common.display(shown)
    if len(text) <= CELL_CHARS:
        return _code(text, cell=True)
    below.append((field, side, shown))
    return "*(below)*"


def _body(change: Change) -> str:
    body = common.body_text(change)
    text = f"Request: {_code(common.request_line(change))}\n\n"
    return text + (fence("json", body) if body is not None else "")


def fence(language: str, content: str) -> str:
    """A fenced block that no backtick run inside ``content`` can close early."""
    content = terminal.visible(content, newlines=True)
    fence = "`" * max(3, _longest_backticks(content) + 1)
    return f"{fence}{language}\n{content}\n{fence}\n\n"


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _text(text: str) -> str:
    """Data as plain inline text, in a paragraph or a table cell: nothing in it is markup."""
    return _PUNCTUATION.sub(r"\\\g<0>", terminal.visible(text))


def _code(text: str, *, cell: bool = False) -> str:
    """Data as inline code; ``cell`` when it stands in a table cell, where ``|`` must be escaped."""
    shown = terminal.visible(text)
    fence = "`" * (_longest_backticks(shown) + 1)
    if cell:
        shown = shown.replace("|", "\\|")
    # A space keeps a value that starts or ends with a backtick (or a space, which would be stripped)
    # apart from the fence; the renderer drops one space on each side.
    pad = " " if shown[:1] in ("`", " ") or shown[-1:] in ("`", " ") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


# What can open inline markup in GitHub's renderer: escapes, code, emphasis and strike-through, links and
# images, HTML and entities, table cells, math. A backslash before any of them renders the character.
_PUNCTUATION = re.compile(r"[\\`*_\[\]!<>&|~$]")


def inline_text(text: str) -> str:
    """Data as plain inline Markdown text (for other Markdown renderers: the apply report)."""
    return _text(text)


def inline_code(text: str, *, cell: bool = False) -> str:
    """Data as an inline code span (for other Markdown renderers: the apply report)."""
    return _code(text, cell=cell)
