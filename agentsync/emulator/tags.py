"""Conversation tags and their assignment to conversations.

Tags list newest first with the same position-encoding cursors as agents. Only the owner or an admin
key may edit or delete a tag (403 otherwise). ``title: null`` in a PATCH leaves the title unchanged
(the response requires one); ``description: null`` clears the description. Any conversation id is
accepted; assigning needs every tag id to exist (404 otherwise).
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from agentsync.emulator import ids
from agentsync.emulator.problems import forbidden, invalid_cursor, not_found
from agentsync.emulator.routing import Request, Response, json_response, no_content
from agentsync.emulator.store import Store


class TagApi:
    def __init__(self, store: Store, workspace_id: str) -> None:
        self.store = store
        self.workspace_id = workspace_id

    def list(self, request: Request) -> Response:
        records = sorted(self.store.tag_records(), key=lambda r: r.seq, reverse=True)
        if request.query.get("cursor"):
            after = _decode(request.query["cursor"])
            records = [r for r in records if r.seq < after]
        page = records[: int(request.query["page_size"])]
        has_more = len(records) > len(page)
        cursor = _encode(page[-1].seq) if has_more else None
        return json_response(
            {"conversation_tags": [r.body for r in page], "next_cursor": cursor, "has_more": has_more}
        )

    def create(self, request: Request) -> Response:
        body = request.body
        tag = {
            "tag_id": ids.tag_id(),
            "workspace_id": self.workspace_id,
            "owner_user_id": request.caller.user_id,
            "title": body["title"],
            "description": body.get("description"),
            "created_at_unix_secs": int(time.time()),
        }
        self.store.put_tag(tag)
        return json_response(tag, wrote=True)

    def get(self, request: Request) -> Response:
        return json_response(self._existing(request.params["tag_id"]))

    def patch(self, request: Request) -> Response:
        with self.store.lock:
            tag = self._editable(request)
            if request.body.get("title") is not None:
                tag["title"] = request.body["title"]
            if "description" in request.body:
                tag["description"] = request.body["description"]
            self.store.put_tag(tag)
        return json_response(tag, wrote=True)

    def delete(self, request: Request) -> Response:
        with self.store.lock:
            self._editable(request)
            self.store.delete_tag(request.params["tag_id"])
        return no_content()

    def assign(self, request: Request) -> Response:
        with self.store.lock:
            for tag_id in request.body["tag_ids"]:
                self._existing(tag_id)
            self.store.assign(request.params["conversation_id"], list(request.body["tag_ids"]))
        return no_content()

    def unassign(self, request: Request) -> Response:
        self._existing(request.params["tag_id"])
        self.store.unassign(request.params["conversation_id"], request.params["tag_id"])
        return no_content()

    def _existing(self, tag_id: str) -> dict[str, Any]:
        found = self.store.get_tag(tag_id)
        if found is None:
            raise not_found("tag", tag_id)
        return found

    def _editable(self, request: Request) -> dict[str, Any]:
        tag = self._existing(request.params["tag_id"])
        caller = request.caller
        if caller.role != "admin" and tag["owner_user_id"] != caller.user_id:
            raise forbidden("Only the tag's owner or a workspace admin can change or delete this tag.")
        return tag


def _encode(seq: int) -> str:
    return base64.urlsafe_b64encode(f"tag:{seq}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        if kind == "tag" and number.isdigit():
            return int(number)
    except (ValueError, binascii.Error):
        pass
    raise invalid_cursor(cursor)
