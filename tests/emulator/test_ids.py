from __future__ import annotations

import re
import string

from agentsync.emulator import ids


def test_ids_have_the_api_formats_and_are_all_different() -> None:
    made = [ids.agent_id() for _ in range(300)]
    assert all(re.fullmatch(r"agent_[0-9a-z]{28}", m) for m in made)
    assert len(set(made)) == len(made)
    assert re.fullmatch(r"ctag_[0-9a-z]{24}", ids.tag_id())
    assert re.fullmatch(r"[0-9a-z]{32}", ids.request_id())


def test_id_characters_cover_the_whole_alphabet() -> None:
    seen = "".join(ids.request_id() for _ in range(200))
    assert set(seen) == set(string.digits + string.ascii_lowercase)
