"""The emulator's settings: the API keys it accepts and the faults it injects."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ADMIN_KEY = "sk_emulator_admin"
MEMBER_KEY = "sk_emulator_member"
ROLES = ("admin", "member")


# The ways agentsync.emulator.hostile breaks an answer (kept here, where Faults is checked).
HOSTILE_KINDS = (
    "truncated",
    "not_object",
    "wrong_type",
    "bad_items",
    "no_has_more",
    "html",
    "huge",
    "huge_chunked",
)


@dataclass(frozen=True)
class ApiKey:
    """A key the emulator accepts, the user it stands for, and that user's workspace role."""

    key: str
    user_id: str
    role: str = "admin"


def default_keys() -> list[ApiKey]:
    return [
        ApiKey(ADMIN_KEY, user_id="user_admin", role="admin"),
        ApiKey(MEMBER_KEY, user_id="user_member", role="member"),
    ]


@dataclass(frozen=True)
class Faults:
    """Failure injection. Rates are probabilities in [0, 1] drawn from ``random.Random(seed)``.

    ``latency`` + uniform(0, ``jitter``) seconds are slept per request. Beyond ``max_concurrent``
    in-flight requests (0 = unlimited) the answer is 429 ``concurrent_limit_exceeded``. ``drop_rate``
    closes the connection without answering; ``commit_then_fail_rate`` stores a write and then answers
    5xx or drops the connection. ``retry_after`` is the Retry-After header on every 429 (seconds).
    ``not_kept_paths`` are dotted agent paths a PATCH silently does not store. ``map_merge`` merges
    free-form maps key by key on PATCH instead of replacing them. ``env_values_replace`` makes an
    environment-variable PATCH replace ``values`` whole (an environment left out is dropped), and
    ``env_values_keep_nulls`` makes it ignore a ``null`` (the environment stays): servers that differ
    from the emulator's per-key merge.

    ``hostile_rate`` of the 200 answers to GET (only those to the route template ``hostile_route``, e.g.
    ``/v1/convai/agents/{agent_id}``, when it is set) get a broken body of one of ``hostile_kinds`` (all of
    :data:`agentsync.emulator.hostile.KINDS` when empty); ``huge_bytes`` is the size of the ``huge`` ones.

    ``test_run_delay`` is how many seconds a test run stays ``pending`` before its graded outcome shows.
    """

    latency: float = 0.0
    jitter: float = 0.0
    max_concurrent: int = 0
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    drop_rate: float = 0.0
    commit_then_fail_rate: float = 0.0
    seed: int | None = None
    retry_after: int = 1
    not_kept_paths: tuple[str, ...] = ()
    map_merge: bool = False
    env_values_replace: bool = False
    env_values_keep_nulls: bool = False
    hostile_rate: float = 0.0
    hostile_kinds: tuple[str, ...] = ()
    hostile_route: str = ""
    huge_bytes: int = 64 * 2**20
    test_run_delay: float = 0.0

    def __post_init__(self) -> None:
        KINDS = HOSTILE_KINDS
        unknown = sorted(set(self.hostile_kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown hostile kinds {unknown}; known: {', '.join(KINDS)}")


@dataclass(frozen=True)
class EmulatorConfig:
    """Where to listen, which keys to accept, which faults to inject, and an optional state file.

    ``port=0`` picks a free port. With ``state_file`` the store is loaded on start and saved
    atomically after every successful write.
    """

    host: str = "127.0.0.1"
    port: int = 0
    keys: list[ApiKey] = field(default_factory=default_keys)
    faults: Faults = field(default_factory=Faults)
    state_file: Path | str | None = None
    workspace_id: str = "workspace_emulator"
