"""The apply report as Markdown for a CI job summary (``apply --format markdown``): the summary line,
one table row per resource (what was created, updated, adopted or deleted, and its read-back outcome),
then the details of what did not converge, failed or was skipped.

As in the plan comment, every value from data (keys, ids, paths, server messages, the version note) is a
code span or escaped text (:mod:`agentsync.render.markdown`): nothing from data becomes a link, HTML or
markup. The text stays under ``limit`` characters and says how many rows it left out.
"""

from __future__ import annotations

from agentsync.outcomes import ApplyReport, Outcome, Result
from agentsync.render.markdown import inline_code, inline_text
from agentsync.render.report import MARKS, PAST, summary

LIMIT = 65_000
NOTE_ROOM = 300
OUTCOME_WORDS: dict[Outcome, str] = {
    Outcome.APPLIED: "applied, read back",
    Outcome.WOULD_APPLY: "would apply (dry run)",
    Outcome.NOT_CONVERGED: "**not converged**",
    Outcome.FAILED: "**failed**",
    Outcome.SKIPPED: "skipped",
}


def render(report: ApplyReport, *, limit: int = LIMIT) -> str:
    head = f"### agentsync apply\n\n**{inline_text(summary(report))}**\n\n"
    if report.version_description:
        head += f"Version description: {inline_code(report.version_description)}\n\n"
    if not report.results:
        return head + "No changes: the workspace matches the project.\n"
    details = _details(report)
    rows = [_row(r) for r in report.results]
    return _fit(head, rows, details, limit)


def _fit(head: str, rows: list[str], details: str, limit: int) -> str:
    table = "| | Resource | Action | Outcome | Id |\n|---|---|---|---|---|\n"
    budget = limit - NOTE_ROOM - len(head) - len(table)
    kept: list[str] = []
    room = budget - min(len(details), budget // 2)
    for row in rows:
        if len(row) > room:
            break
        kept.append(row)
        room -= len(row)
    text = head + table + "".join(kept) + "\n"
    if len(kept) < len(rows):
        text += (
            f"> **Note:** {len(rows) - len(kept)} of {len(rows)} resources are not listed, to stay under "
            "GitHub's size limit; `agentsync apply --format json` reports every one.\n\n"
        )
    if len(text) + len(details) > limit - 100:
        return text + "> **Note:** the details are too long for this summary; see the job log.\n"
    return text + details


def _row(result: Result) -> str:
    action = PAST[result.action] if result.outcome is Outcome.APPLIED else result.action.value
    ident = inline_code(result.remote_id, cell=True) if result.remote_id else ""
    resource = f"{result.kind} {inline_code(result.key, cell=True)}"
    outcome = OUTCOME_WORDS[result.outcome]
    if result.recovered:
        outcome += " (an earlier try had already created it)"
    return f"| {MARKS[result.outcome]} | {resource} | {action} | {outcome} | {ident} |\n"


def _details(report: ApplyReport) -> str:
    parts = []
    for outcome, title in (
        (Outcome.NOT_CONVERGED, "Not converged"),
        (Outcome.FAILED, "Failed"),
        (Outcome.SKIPPED, "Skipped"),
    ):
        results = report.by_outcome(outcome)
        if results:
            parts.append(f"#### {title}\n\n" + "".join(_detail(r) for r in results) + "\n")
    return "".join(parts)


def _detail(result: Result) -> str:
    line = f"- {result.kind} {inline_code(result.key)}"
    if result.paths:
        line += ": did not take: " + ", ".join(inline_code(p) for p in result.paths)
    elif result.reason:
        line += f": {inline_code(result.reason)}"
    return line + "\n"
