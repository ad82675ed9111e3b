"""The graph rules of an agent's ``workflow`` that its schema cannot state: every edge joins two nodes of
the workflow, each node's ``edge_order`` lists exactly its outgoing edges, there is one start node, and
every node can be reached from it.

An edge goes from ``source`` to ``target``; one with a ``backward_condition`` can also be taken from its
target back to its source, so it counts as outgoing for its target too (listing it there is allowed, not
required) and carries reachability both ways. A workflow that declares no ``nodes`` is the server's and
is not checked. Each problem is a (path, message) pair located by the loader.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any

from agentsync.kinds.base import Path, Shower

WORKFLOW: Path = ("workflow",)
START = "start"

Found = list[tuple[Path, str]]


def problems(value: Any, show: Shower) -> Found:
    """Every graph problem of the agent document ``value`` (empty when it has no declared nodes)."""
    workflow = value.get("workflow") if isinstance(value, dict) else None
    if not isinstance(workflow, dict) or not isinstance(workflow.get("nodes"), dict):
        return []
    nodes = {k: v for k, v in workflow["nodes"].items() if isinstance(v, dict)}
    raw_edges = workflow.get("edges")
    edges = {k: v for k, v in raw_edges.items() if isinstance(v, dict)} if isinstance(raw_edges, dict) else {}
    dangling = _ends(nodes, edges, show)
    found = dangling + _orders(nodes, edges) + _start(nodes)
    # With an edge that misses its node, what is reachable depends on the fix: say the first thing only.
    return found if dangling else found + _unreachable(nodes, edges)


def _node_path(key: str, *rest: str | int) -> Path:
    return (*WORKFLOW, "nodes", key, *rest)


def _edge_path(key: str, *rest: str | int) -> Path:
    return (*WORKFLOW, "edges", key, *rest)


def _dotted(path: Path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _ends(nodes: Mapping[str, Any], edges: Mapping[str, Any], show: Shower) -> Found:
    found: Found = []
    for key, edge in edges.items():
        for end in ("source", "target"):
            name = edge.get(end)
            if isinstance(name, str) and name not in nodes:
                path = _edge_path(key, end)
                close = difflib.get_close_matches(name, list(nodes), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else f"; the nodes are {_names(nodes)}"
                found.append(
                    (path, f"{_dotted(path)}: {show(path, name)} is not a node of the workflow{hint}")
                )
    return found


def _outgoing(key: str, edges: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The edges that must be in a node's ``edge_order``, and those that may be (taken backwards)."""
    must = [e for e, edge in edges.items() if edge.get("source") == key]
    may = [e for e, edge in edges.items() if edge.get("target") == key and edge.get("backward_condition")]
    return must, may


def _orders(nodes: Mapping[str, Any], edges: Mapping[str, Any]) -> Found:
    found: Found = []
    for key, node in nodes.items():
        must, may = _outgoing(key, edges)
        order = node.get("edge_order", [])
        if not isinstance(order, list):
            continue  # the schema reports the type
        path = _node_path(key, "edge_order") if "edge_order" in node else _node_path(key)
        found += _order_entries(key, order, must, may, edges)
        missing = [e for e in must if e not in order]
        if missing:
            listed = "edge_order" if "edge_order" in node else "it has no edge_order, which"
            found.append(
                (
                    path,
                    f"{_dotted(_node_path(key))}: {listed} leaves out its outgoing "
                    f"{_plural('edge', missing)} {_names(missing)}, which would never be taken",
                )
            )
    return found


def _order_entries(
    key: str, order: list[Any], must: list[str], may: list[str], edges: Mapping[str, Any]
) -> Found:
    found: Found = []
    seen: set[str] = set()
    for index, entry in enumerate(order):
        path = _node_path(key, "edge_order", index)
        where = f"{_dotted(path)}: '{entry}'"
        if not isinstance(entry, str):
            continue
        if entry in seen:
            found.append((path, f"{where} is listed twice"))
        elif entry not in edges:
            close = difflib.get_close_matches(entry, list(edges), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            found.append((path, f"{where} is not an edge of the workflow{hint}"))
        elif entry not in must and entry not in may:
            source = edges[entry].get("source")
            found.append((path, f"{where} goes out of node '{source}', not out of '{key}'"))
        seen.add(entry)
    return found


def _start(nodes: Mapping[str, Any]) -> Found:
    starts = [k for k, node in nodes.items() if node.get("type") == START]
    if not starts:
        return [((*WORKFLOW, "nodes"), "workflow.nodes: there is no start node (a node with type: start)")]
    return [
        (
            _node_path(key, "type"),
            f"{_dotted(_node_path(key))}: a second start node (the first is '{starts[0]}')",
        )
        for key in starts[1:]
    ]


def _neighbours(edges: Mapping[str, Any]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for edge in edges.values():
        source, target = edge.get("source"), edge.get("target")
        if isinstance(source, str) and isinstance(target, str):
            graph.setdefault(source, set()).add(target)
            if edge.get("backward_condition"):
                graph.setdefault(target, set()).add(source)
    return graph


def _reached(start: str, graph: Mapping[str, set[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _unreachable(nodes: Mapping[str, Any], edges: Mapping[str, Any]) -> Found:
    starts = [k for k, node in nodes.items() if node.get("type") == START]
    if len(starts) != 1:
        return []  # reported by _start; reachability from which start would be a guess
    reached = _reached(starts[0], _neighbours(edges))
    return [
        (_node_path(key), f"{_dotted(_node_path(key))}: no edge leads here from the start node '{starts[0]}'")
        for key in nodes
        if key not in reached
    ]


def _names(keys: Iterator[str] | Mapping[str, Any] | list[str]) -> str:
    return ", ".join(f"'{k}'" for k in keys)


def _plural(word: str, items: list[str]) -> str:
    return word if len(items) == 1 else word + "s"
