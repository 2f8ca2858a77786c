"""Plumbing shared by the engine benchmark's scripts, bench/engine.py and bench/engine_events.py.

The environment of the processes they start, waiting for and looking into processes (/proc),
HTTP to the server, latency statistics, and reporting (table rows, machine facts, temp dirs).
Imported as a top-level module (bench/ is a directory of scripts, not a package) by both, so
engine_events never imports engine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from board_list import group_cpu_seconds, machine_busy_seconds

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
HOST = "127.0.0.1"


# --------------------------------------------------------------------------- environment


def base_env() -> dict[str, str]:
    """This environment without any MISSIONCTL_* setting of the user's, and never a proxy."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MISSIONCTL_")}
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(key, None)
    env["MISSIONCTL_LOG_LEVEL"] = "warning"
    return env


def raise_nofile_limit() -> int:
    """Raise this process's open-file limit to its hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else 65_536
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def raise_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    """A SIGTERM handler: unwind (finally blocks stop the children) and exit 128 + signum."""
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------- processes


def wait_for(
    condition: Callable[[], bool],
    procs: Sequence[subprocess.Popen[bytes]],
    timeout: float,
    what: str,
    interval: float = 0.1,
) -> None:
    """Poll `condition` until it holds; fail if a process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        dead = [proc.args for proc in procs if proc.poll() is not None]
        if dead:
            raise RuntimeError(f"while waiting for {what}: process exited: {dead[0]!r}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def cpu_of(procs: Sequence[subprocess.Popen[bytes]]) -> float:
    """CPU seconds used so far by the process groups of `procs` (each started in its own)."""
    return sum(group_cpu_seconds(proc.pid) for proc in procs)


def tcp_sockets(port: int) -> list[tuple[str, int, int]]:
    """(state, remote port, inode) of every TCP socket whose local port is `port`."""
    found = []
    for name in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    remote = int(fields[2].rsplit(":", 1)[1], 16)
                    found.append((fields[3], remote, int(fields[9])))
    return found


def connection_owners(port: int, pgid: int) -> dict[int, int]:
    """Client port -> pid of the server process (of group `pgid`) holding that connection."""
    by_inode = {inode: remote for st, remote, inode in tcp_sockets(port) if st == "01" and inode}
    owners: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:[") and int(link[8:-1]) in by_inode:
                        owners[by_inode[int(link[8:-1])]] = int(entry.name)
    return owners


def log_lines(log: Path) -> list[str]:
    """The server log's lines (none if it is missing)."""
    with contextlib.suppress(OSError):
        return log.read_text(errors="replace").splitlines()
    return []


# --------------------------------------------------------------------------- HTTP and statistics


# Straight to 127.0.0.1: never through a proxy named in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_json(url: str, payload: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    """POST JSON, return the JSON answer (raises on non-2xx)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"content-type": "application/json"},
    )
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with _OPENER.open(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of `values` (sorted here)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """Min, p50, p90, p99, max and mean of seconds, in ms."""
    if not values:
        return {}
    return {
        "min": round(min(values) * 1000, 2),
        "p50": round(percentile(values, 50) * 1000, 2),
        "p90": round(percentile(values, 90) * 1000, 2),
        "p99": round(percentile(values, 99) * 1000, 2),
        "max": round(max(values) * 1000, 2),
        "mean": round(statistics.fmean(values) * 1000, 2),
    }


# --------------------------------------------------------------------------- peers


def _installed_version(python: Path, package: str) -> str:
    probe = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return probe.stdout.strip() if probe.returncode == 0 else ""


def peer_python(venv: Path, package: str, version_prefix: str) -> Path:
    """The interpreter of a peer's own venv (`.bench-venvs/<name>`), created with
    `pip install '<package>==<version_prefix>*'` when missing or on another version."""
    python = venv / "bin" / "python"
    if python.exists() and _installed_version(python, package).startswith(version_prefix):
        return python
    requirement = f"{package}=={version_prefix}*"
    print(f"creating {venv.relative_to(ROOT)} with {requirement} ...", flush=True)
    if not python.exists():
        creator = shutil.which("python3") or sys.executable
        subprocess.run([creator, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, requirement], check=True, timeout=900)
    if not _installed_version(python, package).startswith(version_prefix):
        raise RuntimeError(f"could not install {requirement} into {venv}")
    return python


# --------------------------------------------------------------------------- reporting


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    figure: str
    value: str
    goal: str
    verdict: str
    notes: str = ""


def markdown_table(rows: Sequence[Row]) -> str:
    """The results as a markdown table."""
    lines = ["| Figure | Value | Goal | Goal met | Notes |", "|---|---:|---|---|---|"]
    lines += [f"| {r.figure} | {r.value} | {r.goal} | {r.verdict} | {r.notes} |" for r in rows]
    return "\n".join(lines)


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return proc.stdout.strip()


def machine_facts() -> dict[str, Any]:
    """Where and on what the figures were measured."""
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        # What "+dirty" means: the measured source differs from the commit in these files.
        "uncommitted_src": [
            f.strip() for f in _git("status", "--porcelain", "--", "src").splitlines()
        ],
        "uncommitted_src_diff_sha256": hashlib.sha256(
            _git("diff", "HEAD", "--", "src").encode()
        ).hexdigest(),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
    }


def busy_cores_now(seconds: float = 2.0) -> float:
    """How many cores the machine keeps busy right now (before we start anything)."""
    before = machine_busy_seconds()
    time.sleep(seconds)
    return round((machine_busy_seconds() - before) / seconds, 2)


@contextlib.contextmanager
def workspace(prefix: str, keep: bool) -> Iterator[Path]:
    """A fresh temp dir, removed afterwards unless asked to keep it."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)
