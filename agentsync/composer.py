"""YAML text to a node tree with positions, as fast as the C parser allows.

ruamel's ``YAML.compose`` defines a new loader class for every document it composes with the C parser,
and its resolver works out the YAML version for every scalar by catching an AttributeError (the C
parser has no scanner to ask). Here the loader class is defined once and the resolver is YAML 1.2's
rules, read once, with one shared tag per rule. What a document composes to is unchanged: the C parser
never knew the version either, so it always fell back to 1.2.

When the C parser is missing, or refuses a document (libyaml follows YAML 1.1 and rejects some valid
YAML 1.2, such as ``{url: https://x}`` in a flow mapping), ruamel's own parser decides.
"""

from __future__ import annotations

import threading
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import BaseResolver, implicit_resolvers
from ruamel.yaml.tag import Tag

try:
    from _ruamel_yaml import CParser
except ImportError:  # pragma: no cover - ruamel.yaml.clib is a dependency, but may fail to build
    CParser = None

__all__ = ["CORE", "compose", "tag_of"]

CORE = "tag:yaml.org,2002:"
_VERSION = (1, 2)

# The first character of a plain scalar -> the (tag, pattern) rules that may match it, in order.
_RULES: dict[str, list[tuple[Tag, Any]]] = {}
for _versions, _tag, _pattern, _first in implicit_resolvers:
    if _VERSION in _versions:
        _shared = Tag(suffix=_tag)
        for _char in _first:
            _RULES.setdefault(_char, []).append((_shared, _pattern))
# The text of every tag this module hands out, by identity: reading a tag through ruamel's properties
# costs four calls per node.
_TEXT: dict[int, str] = {
    id(tag): str(tag)
    for tag in [
        BaseResolver.DEFAULT_SCALAR_TAG,
        BaseResolver.DEFAULT_SEQUENCE_TAG,
        BaseResolver.DEFAULT_MAPPING_TAG,
        *(tag for rules in _RULES.values() for tag, _ in rules),
    ]
}


class _Resolver(BaseResolver):
    """YAML 1.2's implicit rules, without the per-scalar version look-up; no path resolvers."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode:
            if implicit[0]:
                for tag, pattern in _RULES.get(value[:1], ()):
                    if pattern.match(value):
                        return tag
            return self.DEFAULT_SCALAR_TAG
        return self.DEFAULT_SEQUENCE_TAG if kind is SequenceNode else self.DEFAULT_MAPPING_TAG


if CParser is not None:

    class _CComposer(CParser, _Resolver):  # type: ignore[misc]
        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            # What the parser reads of a resolver, set without the references back to itself that
            # ruamel's loader makes: a cycle keeps the whole parser, and a copy of the text, alive
            # until the collector runs.
            _Resolver.__init__(self, loadumper=None)


_engines = threading.local()


def _pure() -> YAML:
    """This thread's pure-Python YAML instance (reusable, but not shared between threads)."""
    engine: YAML | None = getattr(_engines, "pure", None)
    if engine is None:
        engine = _engines.pure = YAML(typ="safe", pure=True)
    return engine


def compose(text: str) -> Node | None:
    """The node tree of the one document in ``text`` (None when it is empty); a syntax error raises
    ruamel's MarkedYAMLError, from ruamel's own parser."""
    if CParser is not None:
        composer = _CComposer(text)
        try:
            node: Node | None = composer.get_single_node()
            return node
        except MarkedYAMLError:
            pass
        finally:
            composer.dispose()
    pure: Node | None = _pure().compose(text)
    return pure


def tag_of(node: Node) -> str:
    """The node's tag as text ("" when it has none)."""
    ctag = node.ctag
    if ctag is None:
        return ""
    text = _TEXT.get(id(ctag))
    return text if text is not None else str(ctag)
