"""The workflow graph rules (agentsync/kinds/workflow.py): edges join nodes, each node's edge_order lists
exactly its outgoing edges, one start node, every node reachable; in validate and plan, located."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from agentsync.cli import run
from agentsync.kinds import workflow

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "support-desk"


def quoted(path: Any, value: Any) -> str:
    return f"'{value}'"


def graph(**changes: Any) -> dict[str, Any]:
    nodes = {
        "start": {"type": "start", "edge_order": ["go"]},
        "desk": {"type": "override_agent", "label": "Desk", "edge_order": ["done"]},
        "end": {"type": "end", "edge_order": []},
    }
    edges = {
        "go": {"source": "start", "target": "desk", "forward_condition": {"type": "unconditional"}},
        "done": {"source": "desk", "target": "end", "forward_condition": {"type": "unconditional"}},
    }
    value: dict[str, Any] = {"workflow": {"nodes": nodes, "edges": edges}}
    for key, change in changes.items():
        value["workflow"][key] = change(copy.deepcopy(value["workflow"][key]))
    return value


def found(value: Any) -> list[tuple[tuple[Any, ...], str]]:
    return workflow.problems(value, quoted)


def test_a_sound_graph_has_no_problem() -> None:
    assert found(graph()) == []


@pytest.mark.parametrize("value", [{}, {"workflow": {}}, {"workflow": {"prevent_subagent_loops": True}}, []])
def test_no_declared_nodes_is_not_checked(value: Any) -> None:
    assert found(value) == []


def test_the_examples_workflow_is_sound() -> None:
    yaml = YAML(typ="safe")
    yaml.constructor.add_constructor("!file", lambda loader, node: loader.construct_scalar(node))
    agent = yaml.load((EXAMPLE / "agents" / "receptionist.yaml").read_text(encoding="utf-8"))
    assert len(agent["workflow"]["nodes"]) > 3
    assert found(agent) == []


def test_an_edge_from_a_missing_node_names_the_nodes() -> None:
    def broken(edges: dict[str, Any]) -> dict[str, Any]:
        edges["go"]["source"] = "nowhere"
        return edges

    assert found(graph(edges=broken)) == [
        (
            ("workflow", "edges", "go", "source"),
            "workflow.edges.go.source: 'nowhere' is not a node of the workflow; the nodes are 'start', 'desk', 'end'",
        ),
        (
            ("workflow", "nodes", "start", "edge_order", 0),
            "workflow.nodes.start.edge_order[0]: 'go' goes out of node 'nowhere', not out of 'start'",
        ),
    ]


def test_edge_order_entries_that_are_unknown_or_twice() -> None:
    def order(nodes: dict[str, Any]) -> dict[str, Any]:
        nodes["desk"]["edge_order"] = ["done", "done", "dne"]
        return nodes

    messages = [m for _, m in found(graph(nodes=order))]
    assert messages == [
        "workflow.nodes.desk.edge_order[1]: 'done' is listed twice",
        "workflow.nodes.desk.edge_order[2]: 'dne' is not an edge of the workflow (did you mean 'done'?)",
    ]


def test_a_node_without_edge_order_but_with_outgoing_edges() -> None:
    def order(nodes: dict[str, Any]) -> dict[str, Any]:
        del nodes["desk"]["edge_order"]
        return nodes

    assert found(graph(nodes=order)) == [
        (
            ("workflow", "nodes", "desk"),
            "workflow.nodes.desk: it has no edge_order, which leaves out its outgoing edge 'done', "
            "which would never be taken",
        )
    ]


def test_start_nodes_none_or_two() -> None:
    def no_start(nodes: dict[str, Any]) -> dict[str, Any]:
        nodes["start"]["type"] = "end"
        return nodes

    def two(nodes: dict[str, Any]) -> dict[str, Any]:
        nodes["desk"] = {"type": "start", "edge_order": ["done"]}
        return nodes

    assert [m for _, m in found(graph(nodes=no_start))] == [
        "workflow.nodes: there is no start node (a node with type: start)"
    ]
    assert found(graph(nodes=two)) == [
        (
            ("workflow", "nodes", "desk", "type"),
            "workflow.nodes.desk: a second start node (the first is 'start')",
        )
    ]


def test_unreachable_nodes_and_backward_edges() -> None:
    def cut(edges: dict[str, Any]) -> dict[str, Any]:
        # desk -> end, and end back to desk only backwards: nothing leads from start to either.
        del edges["go"]
        return edges

    def no_order(nodes: dict[str, Any]) -> dict[str, Any]:
        nodes["start"]["edge_order"] = []
        return nodes

    value = graph(edges=cut)
    value["workflow"]["nodes"] = no_order(value["workflow"]["nodes"])
    assert [p for p, _ in found(value)] == [("workflow", "nodes", "desk"), ("workflow", "nodes", "end")]

    def backwards(edges: dict[str, Any]) -> dict[str, Any]:
        # start is the target; taken backwards, the edge leads from start to desk.
        edges["go"] = {"source": "desk", "target": "start", "backward_condition": {"type": "unconditional"}}
        return edges

    def orders(nodes: dict[str, Any]) -> dict[str, Any]:
        nodes["desk"]["edge_order"] = ["go", "done"]
        return nodes

    value = graph(edges=backwards)
    value["workflow"]["nodes"] = orders(value["workflow"]["nodes"])
    # start may list the backward edge (it does), desk must (it does): a sound graph.
    assert found(value) == []


def test_a_secret_in_an_edge_is_shown_as_its_placeholder() -> None:
    def secret(edges: dict[str, Any]) -> dict[str, Any]:
        edges["go"]["target"] = "hunter2-node"
        return edges

    shown = workflow.problems(graph(edges=secret), lambda path, value: "the value of ${env.NODE}")
    assert shown and all("hunter2" not in message for _, message in shown)


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    root = tmp_path / "desk"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".agentsync"))
    return root


def break_the_example(root: Path) -> None:
    path = root / "agents" / "receptionist.yaml"
    text = path.read_text(encoding="utf-8")
    assert "      target: goodbye\n" in text
    path.write_text(text.replace("      target: goodbye\n", "      target: good-bye\n"), encoding="utf-8")


def test_validate_reports_a_dangling_edge_at_its_line(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    break_the_example(desk)
    assert run(["validate", "-C", str(desk)]) == 1
    out = capsys.readouterr().out
    line = next(
        n
        for n, text in enumerate((desk / "agents" / "receptionist.yaml").read_text().splitlines(), 1)
        if "target: good-bye" in text
    )
    assert (
        f"agents/receptionist.yaml:{line}:15: error: workflow.edges.triage_to_end.target: 'good-bye' is not "
        "a node of the workflow (did you mean 'goodbye'?)"
    ) in out


def test_plan_refuses_a_broken_graph_before_any_request(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    break_the_example(desk)
    assert run(["plan", "-C", str(desk), "--emulator"]) == 1
    err = capsys.readouterr().err
    assert "'good-bye' is not a node of the workflow" in err
    assert not (desk / ".agentsync" / "emulator.json").exists()
