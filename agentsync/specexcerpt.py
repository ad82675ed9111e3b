"""Build the packaged OpenAPI document as an excerpt of the reference document.

The packaged ``agentsync/data/openapi.json`` holds the operations agentsync and its emulator use
(:data:`PATHS`, each with every method the reference gives it) and every component schema reachable from
them, unchanged. Run ``python -m agentsync.specexcerpt REFERENCE OUT`` to rebuild it; adding a kind means
adding its paths here and running that once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

REF_PREFIX = "#/components/schemas/"
HEADER = ("openapi", "info", "servers")

PATHS: tuple[str, ...] = (
    "/v1/convai/agents/create",
    "/v1/convai/agents/{agent_id}",
    "/v1/convai/agents",
    "/v1/convai/agents/{agent_id}/duplicate",
    "/v1/convai/agents/summaries",
    "/v1/convai/tags",
    "/v1/convai/tags/{tag_id}",
    "/v1/convai/conversations/{conversation_id}/tags",
    "/v1/convai/conversations/{conversation_id}/tags/{tag_id}",
    "/v1/convai/tools",
    "/v1/convai/tools/{tool_id}",
    "/v1/convai/tools/{tool_id}/dependent-agents",
    "/v1/convai/mcp-servers",
    "/v1/convai/mcp-servers/{mcp_server_id}",
    "/v1/convai/secrets",
    "/v1/convai/secrets/{secret_id}",
    "/v1/convai/secrets/{secret_id}/dependencies/{resource_type}",
    "/v1/convai/environment-variables",
    "/v1/convai/environment-variables/{env_var_id}",
    "/v1/convai/phone-numbers",
    "/v1/convai/phone-numbers/{phone_number_id}",
    "/v1/convai/agent-testing",
    "/v1/convai/agent-testing/create",
    "/v1/convai/agent-testing/{test_id}",
    "/v1/convai/agents/{agent_id}/run-tests",
    "/v1/convai/test-invocations",
    "/v1/convai/test-invocations/{test_invocation_id}",
    "/v1/convai/test-invocations/{test_invocation_id}/resubmit",
)

NOTE = (
    "Embedded source OpenAPI spec of the official ElevenLabs CLI (npm @elevenlabs/cli 1.3.0, printed by "
    "`--spec-raw`), trimmed by agentsync.specexcerpt to the paths it lists and every schema they reference. "
    "Two dangling refs in the source (DynamicVariablesConfig-Input/-Output) point at DynamicVariablesConfig. "
    "A 'servers' list was added."
)


class ExcerptError(ValueError):
    """The reference lacks a path or a schema the excerpt needs."""


def refs_in(node: Any) -> Iterator[str]:
    """The component names of every ``$ref`` inside ``node``."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                yield value[len(REF_PREFIX) :]
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def reachable(roots: Iterable[Any], schemas: Mapping[str, Any]) -> set[str]:
    """Every component name reachable from ``roots`` through ``$ref`` links (ExcerptError on a dangling one)."""
    found: set[str] = set()
    pending = [name for root in roots for name in refs_in(root)]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        if name not in schemas:
            raise ExcerptError(f"the reference has no schema {name}")
        found.add(name)
        pending.extend(refs_in(schemas[name]))
    return found


def excerpt(reference: Mapping[str, Any], paths: Iterable[str] = PATHS) -> dict[str, Any]:
    """The document holding ``paths`` of ``reference`` and the schemas they reach, schemas sorted by name."""
    all_paths = reference.get("paths", {})
    missing = [p for p in paths if p not in all_paths]
    if missing:
        raise ExcerptError(f"the reference has no path {missing[0]}")
    chosen = {p: all_paths[p] for p in paths}
    schemas = reference.get("components", {}).get("schemas", {})
    names = sorted(reachable(chosen.values(), schemas))
    doc: dict[str, Any] = {key: reference[key] for key in HEADER if key in reference}
    doc["x-trimmed-from"] = NOTE
    doc["paths"] = chosen
    doc["components"] = {"schemas": {name: schemas[name] for name in names}}
    return doc


def render(doc: Mapping[str, Any]) -> str:
    """The packaged file's text: one-space indents, ASCII only, no final newline."""
    return json.dumps(doc, indent=1)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        raise SystemExit("usage: python -m agentsync.specexcerpt REFERENCE OUT")
    reference = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    Path(argv[1]).write_text(render(excerpt(reference)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
