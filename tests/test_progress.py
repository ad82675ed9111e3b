"""Progress on stderr, end to end in a subprocess: on a terminal (a pseudo-terminal here) plan and apply
show listing pages, fetches n/N and each write as it lands; piped or with --quiet they show nothing;
-v logs each request, retry and wait, and never the key or a body."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from projects import write_project

from agentsync.emulator import ADMIN_KEY, Emulator, Faults

SECRET = "very-secret-crm-token"


def environment(emulator: Emulator) -> dict[str, str]:
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith(("ELEVENLABS_", "AGENTSYNC_", "NO_COLOR"))
    }
    return {**keep, "ELEVENLABS_BASE_URL": emulator.url, "ELEVENLABS_API_KEY": ADMIN_KEY, "CRM": SECRET}


def on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run agentsync with stderr on a pseudo-terminal; stdout stays a pipe."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "agentsync", *args], stdout=subprocess.PIPE, stderr=follower, env=env
    )
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        seen += chunk
    out = process.communicate(timeout=60)[0]
    os.close(leader)
    return process.returncode, out.decode(), seen.decode(errors="replace")


def piped(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentsync", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    agents = {
        f"a{i:02d}": {
            "name": f"Agent {i}",
            "platform_settings": {
                "workspace_overrides": {
                    "conversation_initiation_client_data_webhook": {
                        "url": "https://crm.example/hook",
                        "request_headers": {"Authorization": "Bearer ${env.CRM}"},
                    }
                }
            },
        }
        for i in range(12)
    }
    return write_project(tmp_path, agents)


def test_on_a_terminal_apply_and_plan_show_progress(project: Path, emulator: Emulator) -> None:
    env = environment(emulator)
    code, out, err = on_terminal(["apply", "-C", str(project), "--auto-approve"], env)
    assert code == 0, err
    assert "listing /v1/convai/agents: page 1" in err
    for i in range(12):
        assert f"agent a{i:02d} create: applied" in err
    assert "(12/12)" in err
    assert "Apply complete" in out and "(12/12)" not in out
    (project / "agents" / "a03.yaml").write_text('{"name": "Changed"}')
    code, out, err = on_terminal(["plan", "-C", str(project)], env)
    assert code == 0, err
    assert "fetched 12/12" in err and "listing /v1/convai/agents: page 1" in err
    assert "~ update agent a03" in out and "fetched" not in out
    assert SECRET not in err and ADMIN_KEY not in err


def test_piped_or_quiet_there_is_no_progress(project: Path, emulator: Emulator) -> None:
    env = environment(emulator)
    done = piped(["apply", "-C", str(project), "--auto-approve"], env)
    assert done.returncode == 0, done.stderr
    assert "listing" not in done.stderr and "(12/12)" not in done.stderr
    code, _, err = on_terminal(["plan", "-C", str(project), "--quiet"], env)
    assert code == 0
    assert "listing" not in err and "fetched" not in err and "\x1b[K" not in err


def test_verbose_logs_requests_retries_and_waits_but_no_key_or_body(
    project: Path, emulator: Emulator
) -> None:
    env = environment(emulator)
    assert piped(["apply", "-C", str(project), "--auto-approve"], env).returncode == 0
    (project / "agents" / "a01.yaml").write_text('{"name": "Renamed"}')
    # Seeded, but threads take the draws in whatever order they run: at 0.3 one GET sometimes drew
    # five 429s in a row and the apply gave up (as it should). At 0.15 the fourth draw, a GET's, is
    # still a 429, and five in a row for one request is far rarer.
    emulator.set_faults(Faults(rate_limit_rate=0.15, seed=7, retry_after=0))
    done = piped(["apply", "-C", str(project), "--auto-approve", "-v"], env)
    assert done.returncode == 0, done.stderr
    log = done.stderr
    assert "GET /v1/convai/agents 200" in log and " ms" in log
    assert "PATCH /v1/convai/agents/agent_" in log
    assert "retrying GET" in log and "after 429" in log and "waiting" in log
    assert ADMIN_KEY not in log and SECRET not in log and "Renamed" not in log


def test_quiet_and_verbose_together_is_a_usage_error(project: Path, emulator: Emulator) -> None:
    done = piped(["plan", "-C", str(project), "-q", "-v"], environment(emulator))
    assert done.returncode == 1 and "--quiet and --verbose cannot be combined" in done.stderr
