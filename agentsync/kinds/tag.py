"""Conversation tags: workspace-level labels in ``tags.yaml``, matched by title (or by ``id:``)."""

from __future__ import annotations

from agentsync import spec
from agentsync.kinds.base import Api, Fields, Kind, Layout
from agentsync.kinds.identity import NaturalKey
from agentsync.responses import check_tag

TITLE_MAX = 120
DESCRIPTION_MAX = 1000

TAG = Kind(
    name="tag",
    plural="tags",
    noun="conversation tag",
    level=10,
    name_path=("title",),
    api=Api(
        collection="/v1/convai/tags",
        items_key="conversation_tags",
        id_field="tag_id",
        item="/v1/convai/tags/{id}",
        create="/v1/convai/tags",
        check=check_tag,
        check_item=check_tag,
    ),
    fields=Fields(
        writable=("title", "description"),
        create_body=spec.TAG_CREATE_BODY,
        response=spec.TAG_RESPONSE,
        verbatim=frozenset({("title",), ("description",)}),
    ),
    # A conversation tag's title and description are shown to everyone in the workspace: no ${env.*}.
    layout=Layout(where="tags.yaml", schema_file="tags.schema.json", key_path=("title",), allow_env=False),
    identity=NaturalKey(path=("title",), noun="conversation tag"),
)
