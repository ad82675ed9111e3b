"""What the scale benchmarks share: an emulator in its own process, a fast seeded workspace, generated
project files, request accounting and the table printer.

The emulator runs in a child process so that its CPU and its threads never count against (or compete
for the interpreter lock with) the client being measured: ``time.process_time()`` in the benchmark is
then the client's own CPU, and its network waits are excluded by construction.
"""

from __future__ import annotations

import atexit
import compileall
import copy
import functools
import math
import multiprocessing
import os
import shutil
import subprocess
import sysconfig
import tempfile
import time
import venv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import requests
from ruamel.yaml import YAML

import agentsync
from agentsync.emulator import ADMIN_KEY
from agentsync.kinds.identity import marker

NAMESPACE = "bench"
PAGE_SIZE = 100  # what the fetcher asks for; the API's maximum
PROMPT = "\n".join(f"Rule {i}: answer politely, briefly, and only about our product." for i in range(30))


def agent_config(index: int, greeting: str = "Hello") -> dict[str, Any]:
    """A realistic agent file: a name, tags, a long prompt, a few voice and turn settings, a call limit."""
    return {
        "name": f"Agent {index}",
        "tags": ["bench", f"team-{index % 7}"],
        "conversation_config": {
            "agent": {
                "first_message": f"{greeting} from agent {index}, how can I help?",
                "language": "en",
                "prompt": {"prompt": PROMPT, "llm": "gemini-2.5-flash", "temperature": 0.3},
            },
            "tts": {"voice_id": "cjVigY5qzO86Huf0OWal", "stability": 0.5, "speed": 1.0},
            "turn": {"turn_timeout": 7},
        },
        "platform_settings": {"call_limits": {"daily_limit": 500}},
    }


def key_of(index: int) -> str:
    return f"agent-{index:05d}"


# --- the workspace -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    """One agent to put in the workspace: its create body (tags include any marker) and archived flag."""

    body: Mapping[str, Any]
    archived: bool = False


def owned_seeds(count: int, greeting: str = "Hello", *, archived_every: int = 0) -> list[Seed]:
    """``count`` agents owned by the project (marker ``bench:<key>``); every ``archived_every``-th archived."""
    seeds = []
    for i in range(count):
        body = agent_config(i, greeting)
        body["tags"] = [*body["tags"], marker(NAMESPACE, key_of(i))]
        seeds.append(Seed(body, archived=bool(archived_every) and i % archived_every == archived_every - 1))
    return seeds


def foreign_seeds(count: int) -> list[Seed]:
    """Agents the project does not own: half another namespace's, half hand-made (no marker at all)."""
    seeds = []
    for i in range(count):
        body = agent_config(100_000 + i)
        body["tags"] = [f"other:agent-{i}"] if i % 2 else ["handmade"]
        seeds.append(Seed(body))
    return seeds


def list_pages(active: int, archived: int) -> int:
    """List requests the fetcher cannot avoid: both listings (archived=false, archived=true), each at
    least one page of up to PAGE_SIZE summaries."""
    return max(1, math.ceil(active / PAGE_SIZE)) + max(1, math.ceil(archived / PAGE_SIZE))


def _seed_store(emulator: Any, seeds: Sequence[Seed]) -> None:
    # One agent through the real create endpoint gives a complete server-filled body; the rest are
    # clones merged with the emulator's own PATCH merge, which is thousands of times faster than
    # creating each over HTTP and stores the same shape.
    from agentsync.emulator import ids
    from agentsync.emulator.merge import merge_patch

    answer = requests.post(
        f"{emulator.url}/v1/convai/agents/create",
        json={"conversation_config": {}},
        headers={"xi-api-key": ADMIN_KEY},
        timeout=30,
    )
    answer.raise_for_status()
    template = emulator.store.get_agent(answer.json()["agent_id"])
    emulator.store.clear()
    for seed in seeds:
        body = merge_patch(copy.deepcopy(template), copy.deepcopy(dict(seed.body)))
        body["platform_settings"]["archived"] = seed.archived
        body["agent_id"] = ids.agent_id()
        emulator.store.put_agent(body, "user_admin")


def _serve(conn: Connection, seeds: Sequence[Seed]) -> None:
    from agentsync.emulator import Emulator, EmulatorConfig

    with Emulator(EmulatorConfig()) as emulator:
        _seed_store(emulator, seeds)
        conn.send(emulator.url)
        conn.recv()  # anything, or the parent's end closing, means stop


class EmulatorProcess:
    """An emulator in a child process, seeded before it is handed over; faults and stats over HTTP."""

    def __init__(self, seeds: Sequence[Seed]) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, list(seeds)), daemon=True)
        self.url = ""

    def __enter__(self) -> EmulatorProcess:
        self._process.start()
        if not self._conn.poll(120):
            self._process.kill()
            raise RuntimeError("the emulator process did not start")
        self.url = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()

    def set_faults(self, **faults: Any) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=faults, timeout=10).raise_for_status()

    def requests(self) -> dict[str, int]:
        """API requests served so far, per ``METHOD route`` (control requests are not counted)."""
        rows = requests.get(f"{self.url}/_emulator/stats", timeout=10).json()["requests"]
        counts: dict[str, int] = {}
        for row in rows:
            name = f"{row['method']} {row['route']}"
            counts[name] = counts.get(name, 0) + row["count"]
        return counts


def served_since(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


# --- the project ---------------------------------------------------------------------------------------


def write_project(root: Path, configs: Mapping[str, Mapping[str, Any]]) -> None:
    """An agentsync project at ``root`` with one YAML file per key (block style, as people write them)."""
    agents = root / "agents"
    agents.mkdir(parents=True, exist_ok=True)
    for old in agents.glob("*.yaml"):
        old.unlink()
    (root / "agentsync.yaml").write_text(f"namespace: {NAMESPACE}\nsafety: {{max_change_share: 1.0}}\n")
    dumper = YAML(typ="safe", pure=True)
    dumper.default_flow_style = False
    dumper.width = 200
    for key, config in configs.items():
        with (agents / f"{key}.yaml").open("w") as out:
            dumper.dump(dict(config), out)


def project_configs(
    count: int, changed: Iterable[int] = (), greeting: str = "Welcome back"
) -> dict[str, dict[str, Any]]:
    """The files for agents 0..count-1, as seeded, except that the ``changed`` ones get a new greeting."""
    moved = set(changed)
    return {key_of(i): agent_config(i, greeting if i in moved else "Hello") for i in range(count)}


# --- measuring and printing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float


class Stopwatch:
    """Wall time and this process's CPU time (all its threads) over a ``with`` block."""

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timing = Timing(time.perf_counter() - self._wall, time.process_time() - self._cpu)


def _machine_ticks() -> list[int] | None:
    try:
        with open("/proc/stat") as stat:
            first = stat.readline().split()
    except OSError:
        return None
    return [int(v) for v in first[1:]] if first[:1] == ["cpu"] else None


def loop_ms() -> float:
    """CPU milliseconds of a fixed pure-Python loop, best of three: how fast this machine was today."""
    best = math.inf
    for _ in range(3):
        began = time.process_time()
        i = 0
        while i < 2_000_000:
            i += 1
        best = min(best, time.process_time() - began)
    return best * 1000


class Machine:
    """The machine's own accounting over a ``with`` block (Linux ``/proc/stat``): the share of its CPU
    time the hypervisor gave to others (steal). Wall times from runs with much steal measure the host,
    not agentsync, and are not comparable with runs without; CPU per agent is affected less."""

    def __enter__(self) -> Machine:
        self._before = _machine_ticks()
        self.loop_before = loop_ms()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop_after = loop_ms()
        after = _machine_ticks()
        self.steal: float | None = None
        if self._before is not None and after is not None and len(after) > 7:
            spent = [b - a for a, b in zip(self._before, after, strict=False)]
            busy = sum(spent) - spent[3] - spent[4]  # all but idle and iowait
            self.steal = spent[7] / busy if busy > 0 else 0.0

    def summary(self) -> str:
        steal = "not reported" if self.steal is None else f"{self.steal:.0%} of the busy CPU time"
        return (
            f"machine: steal (CPU time the hypervisor gave to others) {steal}; a fixed 2M-step loop took "
            f"{self.loop_before:.0f} ms before and {self.loop_after:.0f} ms after"
        )


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain text table, first column left-aligned and the rest right-aligned."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        first = row[0].ljust(widths[0])
        lines.append("  ".join([first, *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def ratio(measured: float, ideal: float) -> float | str:
    """measured / ideal, or "-" when there is no ideal (no latency injected)."""
    return measured / ideal if ideal > 0 else "-"


@dataclass(frozen=True)
class ProcessRun:
    """One whole ``agentsync`` process: wall seconds, CPU seconds (user + system), peak RSS in MB."""

    wall: float
    cpu: float
    rss_mb: float
    code: int


@functools.cache
def compile_bytecode() -> None:
    """Write agentsync's bytecode before any process is timed, as installing a wheel does.

    An editable install leaves compiling to the first import, and where ``PYTHONDONTWRITEBYTECODE`` is
    set (it is on the machine these benchmarks were first run on) nothing is ever cached, so every
    process compiled every agentsync module again: about 0.1 s of each run that no installed copy pays.
    """
    compileall.compile_dir(Path(agentsync.__file__).parent, quiet=1)


@functools.cache
def installed_python() -> str:
    """An interpreter that finds agentsync the way an installed (non-editable) copy is found.

    The test dependencies are installed editable (``pip install -e``), and an editable install hooks a
    finder into every interpreter start: ``site`` imports it and importlib.util with it, about 15 ms of
    each process that a copy installed with ``pip install .`` never spends. This is a bare virtual
    environment (no pip, made once per benchmark run and removed at exit) whose one ``.pth`` file puts
    the current environment's packages and agentsync's source folder on ``sys.path`` as plain entries;
    the editable hook in that environment is then never run.
    """
    home = Path(tempfile.mkdtemp(prefix="agentsync-bench-python-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(home)
    python = home / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    source = Path(agentsync.__file__).resolve().parent.parent
    packages = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    entries = [str(source), *sorted(packages)]
    Path(site_packages, "agentsync-bench.pth").write_text("".join(f"{entry}\n" for entry in entries))
    return str(python)


def run_cli(args: Sequence[str], expect: tuple[int, ...] = (0,)) -> ProcessRun:
    """``agentsync ARGS`` as its own process with the emulator's key, timed from outside; its output is
    thrown away, and an exit code not in ``expect`` stops the benchmark with what it printed."""
    compile_bytecode()
    env = {**os.environ, "ELEVENLABS_API_KEY": ADMIN_KEY, "NO_COLOR": "1"}
    command = [installed_python(), "-m", "agentsync", *args]
    began = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - began
    code = os.waitstatus_to_exitcode(status)
    error = child.stderr.read().decode() if child.stderr else ""
    if child.stderr:
        child.stderr.close()
    if code not in expect:
        raise SystemExit(f"agentsync {args[0]} exited {code}: {error}")
    return ProcessRun(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code)
