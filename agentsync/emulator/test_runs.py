"""Running agent tests: run-tests, test invocations (get, list) and resubmit.

Decisions where the reference is silent:
- A run is graded when it is submitted (:mod:`agentsync.emulator.grader`), against the stored agent with
  ``agent_config_override``'s parts replacing the stored parts whole. The outcome shows once
  ``Faults.test_run_delay`` seconds have passed; until then the run is ``pending`` with no
  ``condition_result``. The answer to run-tests is always all pending, as the real API's is.
- Each invocation records the configuration every run was graded against (``configs`` in its store
  record, ``config`` per run indexing it), so a test can prove that the override was honoured.
- ``repeat_count`` runs every test that many times; ``ran_against_draft`` is true when an override was
  given. ``branch_id`` is echoed (branches are not emulated). An unknown agent or test is a 404.
- Resubmit re-grades the named runs of the invocation (with its own override, if any) and answers 200
  with ``{}``; a run id not in the invocation is a 404.
- The invocation list is newest first, filtered by ``agent_id`` and by ``search`` (a case-insensitive
  substring of the title, which is the agent's name); ``page_size`` defaults to 30.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from agentsync.emulator import ids
from agentsync.emulator.agent_list import decode_cursor, encode_cursor
from agentsync.emulator.agents import access_info
from agentsync.emulator.config import ApiKey, Faults
from agentsync.emulator.grader import grade, tested_config
from agentsync.emulator.problems import not_found
from agentsync.emulator.routing import Request, Response, json_response
from agentsync.emulator.store import ResourceRecord, Store

DEFAULT_PAGE_SIZE = 30
TEST_TYPES = {"llm": "llm", "tool": "tool_call", "simulation": "simulation"}


class TestRunApi:
    __test__ = False  # not a pytest class, whatever its name

    def __init__(self, store: Store, workspace_id: str, faults: Callable[[], Faults]) -> None:
        self.store = store
        self.workspace_id = workspace_id
        self.faults = faults

    def run(self, request: Request) -> Response:
        body = request.body
        with self.store.lock:
            agent = self._agent(request.params["agent_id"])
            tests = [self._test(str(t["test_id"])) for t in body["tests"]]
            entry = new_invocation(agent, body, request.caller)
            config = tested_config(agent, body.get("agent_config_override"))
            entry["configs"].append(config)
            ready = time.time() + self.faults().test_run_delay
            for _ in range(int(body.get("repeat_count") or 1)):
                for test, given in zip(tests, body["tests"], strict=True):
                    entry["runs"].append(self._new_run(entry, test, given, config, ready, request.caller))
            self.store.put_invocation(entry["invocation"]["id"], entry, request.caller.user_id)
        return json_response(view(entry, time.time(), submitted=True), wrote=True)

    def get(self, request: Request) -> Response:
        return json_response(view(self._invocation(request.params["test_invocation_id"]), time.time()))

    def list(self, request: Request) -> Response:
        records = self.store.invocation_records()
        return json_response(list_invocations(records, request.query, time.time()))

    def resubmit(self, request: Request) -> Response:
        body = request.body
        with self.store.lock:
            entry = self._invocation(request.params["test_invocation_id"])
            agent = self._agent(str(body["agent_id"]))
            by_id = {run["test_run_id"]: run for run in entry["runs"]}
            missing = [r for r in body["test_run_ids"] if r not in by_id]
            if missing:
                raise not_found("test_run", str(missing[0]))
            config = tested_config(agent, body.get("agent_config_override"))
            entry["configs"].append(config)
            ready = time.time() + self.faults().test_run_delay
            for run_id in body["test_run_ids"]:
                test = self._test(by_id[run_id]["test_id"])
                _graded(by_id[run_id], test, config, len(entry["configs"]) - 1, ready)
            self.store.put_invocation(entry["invocation"]["id"], entry, request.caller.user_id)
        return json_response({}, wrote=True)

    def _new_run(
        self,
        entry: dict[str, Any],
        test: dict[str, Any],
        given: Mapping[str, Any],
        config: dict[str, Any],
        ready: float,
        caller: ApiKey,
    ) -> dict[str, Any]:
        invocation = entry["invocation"]
        run: dict[str, Any] = {
            "test_run_id": ids.test_run_id(),
            "test_invocation_id": invocation["id"],
            "agent_id": invocation["agent_id"],
            "branch_id": invocation["branch_id"],
            "version_id": invocation["version_id"],
            "ran_against_draft": invocation["ran_against_draft"],
            "workflow_node_id": given.get("workflow_node_id"),
            "test_id": test["id"],
            "test_name": test["name"],
            "agent_responses": [],
            "environment": test.get("environment") or "production",
            "metadata": {
                "workspace_id": self.workspace_id,
                "test_name": test["name"],
                "ran_by_user_email": f"{caller.user_id}@emulator.invalid",
                "test_type": TEST_TYPES.get(str(test.get("type")), "llm"),
            },
        }
        return _graded(run, test, config, len(entry["configs"]) - 1, ready)

    def _agent(self, agent_id: str) -> dict[str, Any]:
        found = self.store.get_agent(agent_id)
        if found is None:
            raise not_found("agent", agent_id)
        return found

    def _test(self, test_id: str) -> dict[str, Any]:
        found = self.store.get_test(test_id)
        if found is None:
            raise not_found("test", test_id)
        test: dict[str, Any] = found["test"]
        return test

    def _invocation(self, invocation_id: str) -> dict[str, Any]:
        found = self.store.get_invocation(invocation_id)
        if found is None:
            raise not_found("test_invocation", invocation_id)
        return found


def new_invocation(agent: Mapping[str, Any], body: Mapping[str, Any], caller: ApiKey) -> dict[str, Any]:
    invocation = {
        "id": ids.test_invocation_id(),
        "agent_id": agent["agent_id"],
        "branch_id": body.get("branch_id"),
        "version_id": agent.get("version_id"),
        "ran_against_draft": body.get("agent_config_override") is not None,
        "created_at": int(time.time()),
        "repeat_count": int(body.get("repeat_count") or 1),
        "title": str(agent.get("name") or agent["agent_id"]),
        "access_info": access_info(caller),
    }
    return {"invocation": invocation, "configs": [], "runs": []}


def _graded(
    run: dict[str, Any], test: Mapping[str, Any], config: Mapping[str, Any], index: int, ready: float
) -> dict[str, Any]:
    found = grade(test, config)
    run["config"] = index
    run["ready_at"] = ready
    run["outcome"] = {
        "status": "passed" if found.passed else "failed",
        "condition_result": {
            "result": found.result,
            "rationale": {"messages": list(found.messages), "summary": found.summary},
        },
    }
    return run


def run_view(run: Mapping[str, Any], now: float, submitted: bool = False) -> dict[str, Any]:
    """A run as the API shows it: pending until its outcome is due (always, in the run-tests answer)."""
    shown = {k: v for k, v in run.items() if k not in ("config", "ready_at", "outcome")}
    due = now >= float(run["ready_at"]) and not submitted
    shown["status"] = run["outcome"]["status"] if due else "pending"
    shown["condition_result"] = run["outcome"]["condition_result"] if due else None
    shown["last_updated_at_unix"] = int(min(now, float(run["ready_at"])))
    return shown


def view(entry: Mapping[str, Any], now: float, submitted: bool = False) -> dict[str, Any]:
    invocation = {k: v for k, v in entry["invocation"].items() if k not in ("title", "access_info")}
    return {
        **invocation,
        "bucketing_status": None,
        "result_groups": [],
        "test_runs": [run_view(r, now, submitted) for r in entry["runs"]],
    }


def summary(entry: Mapping[str, Any], now: float) -> dict[str, Any]:
    statuses = [run_view(r, now)["status"] for r in entry["runs"]]
    invocation = entry["invocation"]
    return {
        "id": invocation["id"],
        "agent_id": invocation["agent_id"],
        "branch_id": invocation["branch_id"],
        "version_id": invocation["version_id"],
        "ran_against_draft": invocation["ran_against_draft"],
        "runs_diverged_from_version": False,
        "created_at_unix_secs": invocation["created_at"],
        "test_run_count": len(statuses),
        "passed_count": statuses.count("passed"),
        "failed_count": statuses.count("failed"),
        "pending_count": statuses.count("pending"),
        "title": invocation["title"],
        "access_info": invocation["access_info"],
        "repeat_count": invocation["repeat_count"],
    }


def list_invocations(records: list[ResourceRecord], query: Mapping[str, Any], now: float) -> dict[str, Any]:
    chosen = [r for r in records if _matches(r.body["invocation"], query)]
    keyed = sorted((([r.seq, r.seq], r) for r in chosen), key=lambda p: p[0], reverse=True)
    if query.get("cursor"):
        after = decode_cursor(query["cursor"], "invocations", True)
        keyed = [(k, r) for k, r in keyed if k < after]
    page = keyed[: int(query.get("page_size") or DEFAULT_PAGE_SIZE)]
    has_more = len(keyed) > len(page)
    return {
        "meta": {},
        "results": [summary(r.body, now) for _, r in page],
        "next_cursor": encode_cursor(page[-1][0], "invocations", True) if has_more else None,
        "has_more": has_more,
    }


def _matches(invocation: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    if query.get("agent_id") and invocation["agent_id"] != query["agent_id"]:
        return False
    search = query.get("search")
    return not search or search.casefold() in str(invocation["title"]).casefold()
