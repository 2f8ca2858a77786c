"""What the CLI tests share: `missionctl` as a real process on a real data directory.

Every command is a subprocess of the installed entry point, with only MISSIONCTL_DATA_DIR set (no
inherited MISSIONCTL_* variable, no .env: the working directory is a fresh temporary one). `up`
runs in the background on a free 127.0.0.1 port and is always stopped, SIGTERM then SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

MISSIONCTL = Path(sys.executable).parent / "missionctl"
COMMAND_TIMEOUT = 60
READY_TIMEOUT = 20


@pytest.fixture(scope="session")
def bytecode_cache(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Where child processes cache bytecode: pytest's cache dir, outside the source tree.

    Without it (PYTHONDONTWRITEBYTECODE is common in containers) every `missionctl` call
    compiles FastAPI, SQLAlchemy and Alembic from source again, seconds each.
    """
    cache = getattr(request.config, "cache", None)
    if cache is None:  # run with -p no:cacheprovider
        return tmp_path_factory.mktemp("pycache")
    return Path(cache.mkdir("missionctl-pycache"))


@dataclass
class Cli:
    """`missionctl` bound to one data directory."""

    data_dir: Path
    workdir: Path
    bytecode_cache: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("MISSIONCTL_")}
        if "PYTHONPYCACHEPREFIX" not in env:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(self.bytecode_cache)
        env["MISSIONCTL_DATA_DIR"] = str(self.data_dir)
        env.update(extra)
        return env

    def __call__(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(MISSIONCTL), *args],
            cwd=self.workdir,
            env=self.env(**extra_env),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a command that must have worked."""
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
    assert result.stderr == ""
    return result.stdout


def failed(result: subprocess.CompletedProcess[str], exit_code: int) -> str:
    """The one `error: …` line of a command that must have failed with `exit_code`."""
    assert result.returncode == exit_code, f"exit {result.returncode}: {result.stderr}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert result.stdout == ""
    return lines[0]


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(succeeded(result))


def make_cli(root: Path, bytecode_cache: Path) -> Cli:
    workdir = root / "cwd"
    workdir.mkdir()
    return Cli(data_dir=root / "data", workdir=workdir, bytecode_cache=bytecode_cache)


@pytest.fixture
def fresh(tmp_path: Path, bytecode_cache: Path) -> Cli:
    """`missionctl` on a data directory that does not exist yet."""
    return make_cli(tmp_path, bytecode_cache)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A background `missionctl up` and a client for its API."""

    process: subprocess.Popen[bytes]
    api: httpx.Client
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.api.close()
        return self.process.returncode


class StartUp(Protocol):
    def __call__(self, cli: Cli, *args: str) -> Server: ...


def wait_until_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if server.process.poll() is not None:
            pytest.fail(
                f"`missionctl up` exited with {server.process.returncode}:\n{server.output()}"
            )
        try:
            if server.api.get("/ready", timeout=1).status_code == 200:
                # Ours, not a stranger that took the port first (then ours would have exited).
                assert server.process.poll() is None, server.output()
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"`missionctl up` not ready after {READY_TIMEOUT}s:\n{server.output()}")
        time.sleep(0.1)


def sign_in(server: Server, data_dir: Path) -> None:
    """Sign the server's client in as the first admin, from `initial-admin.txt`."""
    credentials = dict(
        line.split(": ", 1) for line in (data_dir / "initial-admin.txt").read_text().splitlines()
    )
    response = server.api.post("/auth/login", json=credentials)
    assert response.status_code == 200, response.text
    server.api.headers["Authorization"] = f"Bearer {response.json()['access_token']}"


@pytest.fixture
def start_up() -> Iterator[StartUp]:
    """Start `missionctl up` in the background and wait until it is ready; stops them all after."""
    servers: list[Server] = []

    def start(cli: Cli, *args: str) -> Server:
        port = free_port()
        log = cli.workdir / f"up-{len(servers)}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [str(MISSIONCTL), "up", "--port", str(port), *args],
                cwd=cli.workdir,
                env=cli.env(),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", trust_env=False, timeout=10)
        server = Server(process=process, api=api, log=log)
        servers.append(server)
        wait_until_ready(server)
        sign_in(server, cli.data_dir)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


def items(server: Server, path: str, **params: str) -> list[dict[str, Any]]:
    response = server.api.get(path, params=params)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()["items"]
    return body
