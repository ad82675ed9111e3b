from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentsync import spec, specexcerpt

PACKAGED = Path(spec.__file__).resolve().parent / "data" / "openapi.json"
KIND_COMPONENTS = (
    spec.TOOL_CREATE_BODY,
    spec.TOOL_UPDATE_BODY,
    spec.TOOL_RESPONSE,
    spec.TOOLS_PAGE,
    spec.TOOL_DEPENDENTS_PAGE,
    spec.MCP_SERVER_CREATE_BODY,
    spec.MCP_SERVER_UPDATE_BODY,
    spec.MCP_SERVER_RESPONSE,
    spec.MCP_SERVERS_LIST,
)


def test_the_packaged_document_has_every_listed_path_and_every_schema_they_reach() -> None:
    doc = spec.document()
    missing_paths = [p for p in specexcerpt.PATHS if p not in doc["paths"]]
    assert missing_paths == []
    reached = specexcerpt.reachable(
        [doc["paths"][p] for p in specexcerpt.PATHS], doc["components"]["schemas"]
    )
    assert set(KIND_COMPONENTS) <= reached


def test_the_packaged_document_is_exactly_its_own_excerpt() -> None:
    # Nothing missing, nothing extra, same bytes: rebuilding from the reference gives this file.
    text = PACKAGED.read_text(encoding="utf-8")
    assert specexcerpt.render(specexcerpt.excerpt(json.loads(text))) == text


def test_a_dangling_reference_is_an_error_naming_the_schema() -> None:
    broken = copy.deepcopy(spec.document())
    del broken["components"]["schemas"]["ToolUsageStatsResponseModel"]
    with pytest.raises(specexcerpt.ExcerptError, match="ToolUsageStatsResponseModel"):
        specexcerpt.excerpt(broken)


def test_a_missing_path_is_an_error_naming_it() -> None:
    with pytest.raises(specexcerpt.ExcerptError, match="/v1/convai/mcp-servers"):
        specexcerpt.excerpt(spec.document(), ["/v1/convai/tools", "/v1/convai/mcp-servers/x"])


def test_the_excerpt_keeps_only_what_the_paths_reach() -> None:
    doc: dict[str, Any] = spec.document()
    small = specexcerpt.excerpt(doc, ["/v1/convai/tags/{tag_id}"])
    names = set(small["components"]["schemas"])
    assert spec.TAG_RESPONSE in names
    assert spec.TOOL_RESPONSE not in names
    assert list(small["paths"]) == ["/v1/convai/tags/{tag_id}"]


def test_the_command_writes_the_excerpt(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    result = subprocess.run(
        [sys.executable, "-m", "agentsync.specexcerpt", str(PACKAGED), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8") == PACKAGED.read_text(encoding="utf-8")
