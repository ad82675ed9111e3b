"""Remote ids in URL paths: the shape an ``id:`` in a project file must have, and the one way any id
(declared, or sent by the server) is put into a request path.

An id is data. Written into a path as it is, ``../../../v1/user?x=`` would make a request for another
endpoint, with the API key; so every id is percent-encoded as one path segment, and the segments that
clients and servers resolve as steps (``.`` and ``..``) are refused.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from agentsync.errors import AgentsyncError

# ElevenLabs ids are letters, digits and underscores (agent_..., ctag_...); '-' is allowed for safety.
SAFE_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
_SAFE = re.compile(SAFE_ID)
DOT_SEGMENTS = ("", ".", "..")


def is_safe(value: str) -> bool:
    """Whether ``value`` has the shape of an id that a project file may declare."""
    return _SAFE.fullmatch(value) is not None


def segment(value: str) -> str:
    """``value`` as one URL path segment: '/', '?', '#', '%' and everything else outside the unreserved
    characters are percent-encoded, so the id can never leave its segment."""
    if value in DOT_SEGMENTS:
        raise AgentsyncError(
            f"the id {value!r} cannot be used in a request path",
            hint="an id must be a non-empty name such as agent_123; check the id in the file or the workspace",
        )
    return quote(value, safe="")


def item_path(collection: str, value: str) -> str:
    """``/v1/convai/agents`` and ``agent_1`` -> ``/v1/convai/agents/agent_1``, the id escaped."""
    return f"{collection}/{segment(value)}"
