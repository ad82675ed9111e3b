"""--state: the store survives restarts; a corrupt file is a clear error, never silently emptied."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from agentsync.emulator import ADMIN_KEY, Emulator, EmulatorConfig, StateFileError

AUTH = {"xi-api-key": ADMIN_KEY}


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with Emulator(EmulatorConfig(state_file=state)) as emu:
        agent_id = requests.post(
            f"{emu.url}/v1/convai/agents/create",
            json={"conversation_config": {}, "name": "Kept"},
            headers=AUTH,
            timeout=5,
        ).json()["agent_id"]
        tag = requests.post(f"{emu.url}/v1/convai/tags", json={"title": "t"}, headers=AUTH, timeout=5).json()
        requests.post(
            f"{emu.url}/v1/convai/conversations/c1/tags",
            json={"tag_ids": [tag["tag_id"]]},
            headers=AUTH,
            timeout=5,
        )
        assert state.exists()  # saved on the write, not only on stop
    with Emulator(EmulatorConfig(state_file=state)) as emu:
        agent = requests.get(f"{emu.url}/v1/convai/agents/{agent_id}", headers=AUTH, timeout=5).json()
        assert agent["name"] == "Kept"
        assert emu.store.conversation_tags("c1") == {tag["tag_id"]}
        newer = requests.post(
            f"{emu.url}/v1/convai/tags", json={"title": "u"}, headers=AUTH, timeout=5
        ).json()
        listed = requests.get(f"{emu.url}/v1/convai/tags", headers=AUTH, timeout=5).json()[
            "conversation_tags"
        ]
        assert [t["tag_id"] for t in listed] == [newer["tag_id"], tag["tag_id"]]


def test_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with Emulator(EmulatorConfig(state_file=state)) as emu:
        requests.post(f"{emu.url}/v1/convai/tags", json={"title": "t"}, headers=AUTH, timeout=5)
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


@pytest.mark.parametrize("content", ["{not json", '{"format": 99}', '{"format": 1, "agents": [{}]}', "[]"])
def test_corrupt_state_file_is_a_clear_error_and_is_kept(tmp_path: Path, content: str) -> None:
    state = tmp_path / "state.json"
    state.write_text(content)
    with pytest.raises(StateFileError) as raised:
        Emulator(EmulatorConfig(state_file=state)).start()
    assert str(state) in raised.value.render()
    assert state.read_text() == content
