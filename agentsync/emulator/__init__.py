"""A local ElevenLabs Agents API for tests, demos and offline CI.

>>> with Emulator() as emu:            # doctest: +SKIP
...     requests.get(f"{emu.url}/v1/convai/agents", headers={"xi-api-key": ADMIN_KEY})
"""

from __future__ import annotations

from agentsync.emulator.config import ADMIN_KEY, MEMBER_KEY, ApiKey, EmulatorConfig, Faults
from agentsync.emulator.server import Emulator
from agentsync.emulator.store import StateFileError, Store

__all__ = [
    "ADMIN_KEY",
    "MEMBER_KEY",
    "ApiKey",
    "Emulator",
    "EmulatorConfig",
    "Faults",
    "StateFileError",
    "Store",
]
