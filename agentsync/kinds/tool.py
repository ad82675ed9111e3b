"""Tools: a file per key under ``tools/``, matched by ``tool_config.name`` (or ``id:``).

A tool update replaces ``tool_config`` whole (the reference's PATCH semantics): the plan shows the
field-level diff, and the body carries the whole declared ``tool_config``. Agents point at tools with
``${tool.KEY.id}``, so tools come before agents in every apply, and after them in every delete.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from agentsync import spec
from agentsync.kinds.base import Api, Fields, Hooks, Kind, Layout, Path, Shower
from agentsync.kinds.identity import NaturalKey
from agentsync.responses import check_tool
from agentsync.strategy import Strategy

# Where a parameter's value comes from: exactly one per literal parameter (the API refuses the tool
# otherwise, and it is the commonest reason a webhook tool cannot be created).
SOURCES = ("description", "dynamic_variable", "constant_value", "is_system_provided", "is_omitted")
SOURCES_TEXT = (
    "description (the LLM fills it in), dynamic_variable (from a dynamic variable), constant_value "
    "(a fixed value), is_system_provided: true (the system fills it in) or is_omitted: true (left out)"
)


def _sources(prop: Mapping[str, Any]) -> list[str]:
    def given(name: str) -> bool:
        value = prop.get(name)
        if name in ("is_system_provided", "is_omitted"):
            return value is True
        return value is not None and value != ""

    return [name for name in SOURCES if given(name)]


def _walk(path: Path, prop: Any, item: bool = False) -> Iterator[tuple[Path, Mapping[str, Any], bool]]:
    """Every parameter under ``prop`` (itself included), and whether it is an array's items."""
    if not isinstance(prop, Mapping):
        return
    yield path, prop, item
    if prop.get("type") == "object" and isinstance(prop.get("properties"), Mapping):
        for name, sub in prop["properties"].items():
            yield from _walk((*path, "properties", name), sub)
    if prop.get("type") == "array":
        yield from _walk((*path, "items"), prop.get("items"), item=True)


def _parameters(config: Mapping[str, Any]) -> Iterator[tuple[Path, Mapping[str, Any], bool]]:
    base: Path = ("tool_config",)
    api = config.get("api_schema")
    if isinstance(api, Mapping):
        here: Path = (*base, "api_schema")
        path_params = api.get("path_params_schema")
        for name, prop in path_params.items() if isinstance(path_params, Mapping) else ():
            yield from _walk((*here, "path_params_schema", name), prop)
        query = api.get("query_params_schema")
        props = query.get("properties") if isinstance(query, Mapping) else None
        for name, prop in props.items() if isinstance(props, Mapping) else ():
            yield from _walk((*here, "query_params_schema", "properties", name), prop)
        yield from _walk((*here, "request_body_schema"), api.get("request_body_schema"))
    yield from _walk((*base, "parameters"), config.get("parameters"))


def one_value_source(value: Any, namespaces: list[str], show: Shower) -> list[tuple[Path, str]]:
    """A literal parameter has exactly one value source; an object or an array at most one."""
    config = value.get("tool_config") if isinstance(value, Mapping) else None
    if not isinstance(config, Mapping):
        return []
    found: list[tuple[Path, str]] = []
    for path, prop, item in _parameters(config):
        sources = _sources(prop)
        where = ".".join(str(p) for p in path)
        literal = prop.get("type") not in ("object", "array")
        if len(sources) > 1:
            message = (
                f"{where}: the parameter has {len(sources)} value sources ({', '.join(sources)}), and they "
                f"exclude each other; keep exactly one of {SOURCES_TEXT}. A constant or a dynamic "
                "variable needs no description: the LLM never sees the parameter"
            )
            found.append(((*path, sources[1]), message))
        elif not sources and literal and not item:
            message = (
                f"{where}: the parameter has no value source, so nothing would fill it in; give it "
                f"exactly one of {SOURCES_TEXT}"
            )
            found.append((path, message))
    return found


TOOL = Kind(
    name="tool",
    plural="tools",
    noun="tool",
    level=15,
    name_path=("tool_config", "name"),
    api=Api(
        collection="/v1/convai/tools",
        items_key="tools",
        id_field="id",
        item="/v1/convai/tools/{id}",
        create="/v1/convai/tools",
        check=check_tool,
        check_item=check_tool,
        dependents="/v1/convai/tools/{id}/dependent-agents",
    ),
    fields=Fields(
        writable=("tool_config", "response_mocks"),
        create_body=spec.TOOL_CREATE_BODY,
        response=spec.TOOL_RESPONSE,
        strategies={("tool_config",): Strategy.REPLACE, ("response_mocks",): Strategy.REPLACE},
        read_only=(("id",), ("access_info",), ("usage_stats",)),
    ),
    layout=Layout(where="tools/", schema_file="tool.schema.json", order=("tool_config", "response_mocks")),
    identity=NaturalKey(path=("tool_config", "name"), noun="tool"),
    hooks=Hooks(checks=one_value_source),
)
