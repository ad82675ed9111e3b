"""The apply report as text for terminals and as JSON for CI (versioned, stable keys)."""

from __future__ import annotations

import json
from typing import Any

from agentsync.outcomes import REPORT_FORMAT_VERSION, ApplyReport, Outcome, Result
from agentsync.plan import Action
from agentsync.render.terminal import visible

PAST: dict[Action, str] = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.ADOPT: "adopted",
    Action.REPLACE: "replaced",
    Action.DELETE: "deleted",
}
MARKS: dict[Outcome, str] = {
    Outcome.APPLIED: "ok",
    Outcome.WOULD_APPLY: "..",
    Outcome.NOT_CONVERGED: "!!",
    Outcome.FAILED: "xx",
    Outcome.SKIPPED: "--",
}
SECTIONS: tuple[tuple[Outcome, str], ...] = (
    (Outcome.APPLIED, "Applied"),
    (Outcome.WOULD_APPLY, "Would apply (dry run)"),
    (Outcome.NOT_CONVERGED, "Not converged"),
    (Outcome.FAILED, "Failed"),
    (Outcome.SKIPPED, "Skipped"),
)


def render_text(report: ApplyReport) -> str:
    """Sections per outcome, one line per resource, then the one-line summary."""
    lines: list[str] = []
    for outcome, title in SECTIONS:
        results = report.by_outcome(outcome)
        if results:
            lines.append(f"{title}:")
            # Keys, ids and server error messages are remote data: no control character is obeyed.
            lines.extend(visible(_line(r)) for r in results)
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def _line(result: Result) -> str:
    what = f"  {MARKS[result.outcome]} {result.kind} {result.key}"
    if result.outcome in (Outcome.APPLIED, Outcome.NOT_CONVERGED):
        what += f" {PAST[result.action]}"
    elif result.outcome is Outcome.WOULD_APPLY:
        what += f" ({result.action.value})"
    if result.remote_id:
        what += f" [{result.remote_id}]"
    if result.recovered:
        what += " (an earlier try had already created it)"
    if result.paths:
        what += f": did not take: {', '.join(result.paths)}"
    elif result.reason and result.outcome is not Outcome.WOULD_APPLY:
        what += f": {result.reason}"
    return what


def summary(report: ApplyReport) -> str:
    if report.dry_run:
        head = f"Dry run: {report.count(Outcome.WOULD_APPLY)} to write, nothing was written"
    else:
        head = (
            "Apply interrupted"
            if report.interrupted
            else ("Apply complete" if report.ok else "Apply incomplete")
        )
        counts = ", ".join(
            f"{report.count(o)} {o.value.replace('_', ' ')}"
            for o, _ in SECTIONS
            if o is not Outcome.WOULD_APPLY
        )
        head = f"{head}: {counts}"
    if report.requests:
        head += f" ({_requests(report.requests)})"
    return head + "."


def _requests(stats: dict[str, int]) -> str:
    methods = [f"{n} {m}" for m, n in sorted(stats.items()) if m != "retries"]
    retries = stats.get("retries", 0)
    return ", ".join(methods) + (f", {retries} retries" if retries else "")


def to_json(report: ApplyReport) -> dict[str, Any]:
    """The report as a JSON-ready dict; ``format_version`` changes only when a key changes meaning."""
    return {
        "format_version": REPORT_FORMAT_VERSION,
        "ok": report.ok,
        "exit_code": report.exit_code,
        "dry_run": report.dry_run,
        "interrupted": report.interrupted,
        "version_description": report.version_description,
        "summary": {o.value: report.count(o) for o in Outcome},
        "results": [_result_json(r) for r in report.results],
        "requests": dict(report.requests),
    }


def _result_json(result: Result) -> dict[str, Any]:
    return {
        "kind": result.kind,
        "key": result.key,
        "name": result.name,
        "action": result.action.value,
        "outcome": result.outcome.value,
        "remote_id": result.remote_id,
        "reason": result.reason,
        "not_converged_paths": list(result.paths),
        "recovered": result.recovered,
    }


def render_json(report: ApplyReport) -> str:
    return json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n"
