"""Where the API key may go, and which variable it may come from, when a project file decides.

Project files are untrusted input (``plan`` runs on pull requests), so what they declare about the
connection is held to the ElevenLabs hosts and this machine: a file-declared ``base_url`` must be an
ElevenLabs API host (the residency hosts the client knows) or loopback, and a file-declared
``api_key_env`` must name a variable of the ``ELEVENLABS_`` family, so that a file cannot have another
secret of the job (``GITHUB_TOKEN``) sent as the key. Any other host is the operator's to name, with
``--base-url`` or ``ELEVENLABS_BASE_URL``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from agentsync.errors import UsageError
from agentsync.project import RESIDENCIES

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
ELEVENLABS_HOSTS = frozenset(urlsplit(url).hostname or "" for url in RESIDENCIES.values())
KEY_ENV_PREFIX = "ELEVENLABS_"
OPERATOR_HINT = "name another host with --base-url or ELEVENLABS_BASE_URL, which a project file cannot set"


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_elevenlabs_or_loopback(url: str) -> bool:
    """True for an https URL on an ElevenLabs API host, or an http(s) URL on this machine."""
    parts = urlsplit(url.strip())
    try:
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    return is_loopback(host) or (parts.scheme == "https" and host in ELEVENLABS_HOSTS)


def base_url_problem(url: str) -> str | None:
    """Why a project file may not declare ``url`` as the base URL, or None if it may."""
    if is_elevenlabs_or_loopback(url):
        return None
    return (
        f"{url!r} is not an ElevenLabs API host ({', '.join(sorted(ELEVENLABS_HOSTS))}) or loopback, "
        "and a project file cannot send the API key anywhere else"
    )


def key_env_problem(name: str) -> str | None:
    """Why a project file may not name ``name`` as the key's variable, or None if it may."""
    if name.startswith(KEY_ENV_PREFIX) and len(name) > len(KEY_ENV_PREFIX):
        return None
    return (
        f"{name!r} does not start with {KEY_ENV_PREFIX}, and a project file may take the API key only "
        f"from an {KEY_ENV_PREFIX}* variable, so that no other secret is sent as the key"
    )


def check_declared(environment: str, base_url: str | None, api_key_env: str) -> None:
    """Refuse, at connect time, what the loader already reports for ``environments.ENV``."""
    if base_url is not None and (reason := base_url_problem(base_url)):
        raise UsageError(f"environments.{environment}.base_url: {reason}", hint=OPERATOR_HINT)
    if reason := key_env_problem(api_key_env):
        raise UsageError(
            f"environments.{environment}.api_key_env: {reason}",
            hint=f"rename the variable to {KEY_ENV_PREFIX}...",
        )
