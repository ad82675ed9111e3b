"""The fast composer gives the node tree ruamel's own C-parser path gives, tag for tag."""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from agentsync.composer import compose, tag_of

DOCUMENTS = [
    "a: 1\nb: -2\nc: 0x1f\nd: 0o17\ne: 1_000\n",
    "f: 1.5\ng: .inf\nh: -.Inf\ni: .nan\nj: 1e3\nk: 6.02e+23\n",
    "t: true\nu: False\nv: yes\nw: no\nx: on\n",  # yes/no/on are strings in YAML 1.2
    "n: null\no: ~\np:\nq: Null\n",
    "when: 2026-12-02\nstamp: 2026-12-02T10:00:00Z\n",
    "quoted: \"1\"\nsingle: 'true'\nplain: hello world\n",
    "base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\n",
    "prompt: !file prompts/a.md\nlist: [1, two, 3.0, null]\n",
    "- a\n- {b: c}\n- [d, 5]\n",
    "value: =\nempty: ''\n",
    "",
]


def shape(node: Node | None) -> Any:
    if node is None:
        return None
    if isinstance(node, MappingNode):
        return (tag_of(node), [(shape(k), shape(v)) for k, v in node.value])
    if isinstance(node, SequenceNode):
        return (tag_of(node), [shape(item) for item in node.value])
    return (tag_of(node), node.value, node.start_mark.line, node.start_mark.column)


@pytest.mark.parametrize("text", DOCUMENTS)
def test_the_same_tree_as_ruamel(text: str) -> None:
    expected = YAML(typ="safe", pure=False).compose(text)
    assert shape(compose(text)) == shape(expected)


def test_yaml_that_libyaml_refuses_goes_to_ruamels_own_parser() -> None:
    node = compose("{url: https://example.com}\n")
    assert isinstance(node, MappingNode)
    assert node.value[0][1].value == "https://example.com"
