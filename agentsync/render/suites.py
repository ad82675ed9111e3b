"""Test results as a table: text for a terminal, Markdown for the pull-request comment, JSON for tools.

Every cell comes from data (keys, test names, the grader's rationale) and is escaped as the plan's
renderers escape it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from agentsync.render import terminal
from agentsync.render.markdown import _code, _text
from agentsync.suites import FAILED, NOT_RUN, PASSED, Progress, Report, TestResult

__all__ = ["Progress", "exit_code", "markdown", "render", "text"]

MARKS = {PASSED: "ok", FAILED: "FAIL", NOT_RUN: "not run"}


def summary(report: Report) -> str:
    counts = {s: sum(1 for r in report.results if r.status == s) for s in (PASSED, FAILED, NOT_RUN)}
    return f"Tests: {counts[PASSED]} passed, {counts[FAILED]} failed, {counts[NOT_RUN]} not run."


def _runs(result: TestResult) -> str:
    return f"{result.passed_runs}/{result.runs}" if result.runs else "-"


def text(report: Report) -> str:
    if not report.results:
        return "Tests: no attached test in scope.\n"
    rows = [(MARKS[r.status], f"{r.kind} {r.key}", r.test, _runs(r), r.reason) for r in report.results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(terminal.visible(cell).ljust(widths[i]) for i, cell in enumerate(row[:4]))
        + "  "
        + terminal.visible(row[4])
        for row in rows
    ]
    return "\n".join([*(line.rstrip() for line in lines), summary(report)]) + "\n"


def markdown(report: Report) -> str:
    head = f"#### agentsync test\n\n**{summary(report)}**\n\n"
    if not report.results:
        return head + "No attached test in scope.\n"
    table = ["| result | resource | test | runs passed | why |", "|---|---|---|---|---|"]
    table += [_row(r) for r in report.results]
    return head + "\n".join(table) + "\n"


def _row(result: TestResult) -> str:
    cells = [
        MARKS[result.status],
        _code(f"{result.kind} {result.key}", cell=True),
        _code(result.test, cell=True),
        _runs(result),
        _text(result.reason) if result.reason else "",
    ]
    return "| " + " | ".join(cells) + " |"


def as_json(report: Report) -> dict[str, object]:
    return {
        "results": [
            {
                "kind": r.kind,
                "key": r.key,
                "test": r.test,
                "test_id": r.test_id,
                "status": r.status,
                "reason": r.reason,
                "passed_runs": r.passed_runs,
                "runs": r.runs,
            }
            for r in report.results
        ],
        "fingerprints": dict(report.fingerprints),
        "summary": summary(report),
    }


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(as_json(report), indent=2, ensure_ascii=True) + "\n"
    return markdown(report) if fmt == "markdown" else text(report)


def exit_code(reports: Sequence[Report]) -> int:
    """0 all passed, 1 any failure, 3 nothing failed but something could not run."""
    from agentsync.errors import ExitCode

    if any(r.failed for r in reports):
        return int(ExitCode.ERROR)
    if any(r.not_run for r in reports):
        return int(ExitCode.TESTS_NOT_RUN)
    return int(ExitCode.OK)
