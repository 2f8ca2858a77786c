"""Event latency from commit to WebSocket clients: the `events` part of bench/engine.py.

What it measures
    How long a committed event takes to reach 1,000 clients following /api/v1/ws/events (goal:
    p99 < 50 ms). ~50 tasks are created over HTTP 100 ms apart; every (client, task.created
    event) pair is timed from the event's `created_at` (stamped by the INSERT in the committing
    transaction, same machine clock) to its arrival, and from the POST's send. p50/p99 are over
    all pairs; every client must get every event.

Configurations, each on a fresh server with a fresh SQLite data dir (rate limits lifted)
    - floor: 10 clients in 1 client process, `missionctl up --no-demo`: no fan-out to speak of.
    - up, the headline: 1,000 clients spread over 2 client processes, `missionctl up --no-demo`.
    - up-one-client-process: the same with all the clients in 1 process, for reference. On a
      2-core machine it distorts the tail: the server's fan-out and 1,000 receivers in one Python
      process compete for the second core, so the client's own queueing shows up as latency.
    - api-2: 1,000 clients over 2 client processes against `missionctl api --workers 2` (scale
      out): two API processes on one port with SO_REUSEPORT, so the kernel spreads the WebSocket
      connections (and the POSTs) over them. Each process runs its own event tail: the one that
      handles a POST hears its own commit at once, the other sees it through SQLite's
      `PRAGMA data_version` probe, every 5 ms. `missionctl api` migrates but creates no admin:
      `missionctl db upgrade` and `missionctl users create --role admin --password-stdin` run
      first, with the same environment, and the bench signs in as that user.

How
    Client processes are this script in its `ws-clients` role, using the `websockets` library.
    They offer permessage-deflate, as browsers do; Mission Control's servers refuse it
    (`ws_per_message_deflate=False`), so frames travel uncompressed (the JSON records what was
    negotiated). While the tasks are posted each connection only notes (arrival time, bytes) in
    `data_received` and parses them afterwards, so a stamp is when the bytes reached the client
    process, not when a busy client got round to them. Warm-up tasks are posted before the
    clients connect (they pay lazy imports); on api-2 sixteen, so that both processes get some.
    Also reported: POST send -> `created_at`, the first client's arrival, the spread of one
    event's arrivals over the clients, the CPU used while the tasks were posted by the server's
    process group (on api-2 the supervisor and both API processes) and by the clients, how many
    clients each server process held (its established sockets on the server's port, from /proc)
    with their p50/p99, and the warnings and errors in the server's log, apart for while it ran
    and for its shutdown. The clients are stopped first (no closing handshakes), then the server.

Run: `.venv/bin/python bench/engine.py --parts events [--quick] [--clients C] [--events E]
[--event-interval S] [--keep]` (about 2 minutes, `--quick` about 1.5). The client processes it
starts: `.venv/bin/python bench/engine_events.py ws-clients URL COUNT READY_FILE OUT_FILE`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench_common import (
    HOST,
    Row,
    base_env,
    connection_owners,
    cpu_of,
    http_json,
    log_lines,
    raise_nofile_limit,
    summary_ms,
    tcp_sockets,
    wait_for,
)
from board_list import (
    Processes,
    free_port,
    group_cpu_seconds,
    machine_busy_seconds,
    missionctl_bin,
    wait_ready,
)

GOAL_EVENT_P99_MS = 50.0
TASK_CREATED = '"event_type":"task.created"'
CONNECT_CONCURRENCY = 50  # WebSocket handshakes in flight at once, per client process
FLOOR_CLIENTS = 10
SETTLE_SECONDS = 3.0  # after the last task, how long clients keep listening
API_WORKERS = 2
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-events-" + "p" * 20
LOG_TROUBLE = re.compile(r"warning|error|exception|critical", re.IGNORECASE)

Fleet = list[tuple[subprocess.Popen[bytes], Path, Path]]  # (process, ready file, results file)


@dataclass(frozen=True)
class EventConfig:
    """How many clients over how many client processes, against which server."""

    name: str
    clients: int
    spread: int
    server: str = "up"  # "up": `missionctl up --no-demo`; "api": `missionctl api --workers 2`

    @property
    def label(self) -> str:
        """As the table shows it."""
        where = "1 client process" if self.spread == 1 else f"{self.spread} client processes"
        server = "`up --no-demo`" if self.server == "up" else f"`api --workers {API_WORKERS}`"
        return f"Event latency, {server}, {self.clients:,} clients in {where}, p50 / p99 (ms)"


@dataclass
class EventRun:
    """Live-event latency for one configuration."""

    config: EventConfig
    connected: int
    events: int
    pairs_expected: int
    pairs_received: int
    clients_with_every_event: int
    commit_to_client_ms: dict[str, float]
    post_to_client_ms: dict[str, float]
    post_to_commit_ms: dict[str, float]
    first_arrival_ms: dict[str, float]
    fanout_spread_ms: dict[str, float]
    machine_busy_cores: float
    server_cores: float
    client_cores: float
    server_cpu_ms_per_event: float
    negotiated: str
    meets_goal: bool
    server_processes: list[dict[str, Any]] = field(default_factory=list)
    # "run" (until the clients stop) / "stop" -> warning or error line -> times
    server_log_trouble: dict[str, dict[str, int]] = field(default_factory=dict)
    per_event: list[dict[str, float]] = field(default_factory=list)


def event_configs(clients: int) -> list[EventConfig]:
    """The floor, the headline (`up`, two client processes), one client process, `api -w 2`."""
    spread = min(2, clients)
    configs = [EventConfig("floor", min(FLOOR_CLIENTS, clients), 1)]
    configs.append(EventConfig("up", clients, spread))
    if spread > 1:
        configs.append(EventConfig("up-one-client-process", clients, 1))
    configs.append(EventConfig("api-2", clients, spread, server="api"))
    return configs


def measure_events(
    clients: int, events: int, interval: float, processes: Processes, workdir: Path
) -> list[EventRun]:
    """Each configuration on a fresh server."""
    runs = []
    for config in event_configs(clients):
        print(f"  {config.label.removeprefix('Event latency, ')}, {events} tasks ...", flush=True)
        run = event_run(config, events, interval, processes, workdir)
        lat = run.commit_to_client_ms
        print(
            f"    p50 {lat.get('p50', float('nan')):.1f} ms, p99 {lat.get('p99', float('nan')):.1f}"
            f" ms; {run.pairs_received}/{run.pairs_expected} pairs",
            flush=True,
        )
        runs.append(run)
    return runs


# --------------------------------------------------------------------------- one run


def event_run(
    config: EventConfig, events: int, interval: float, processes: Processes, workdir: Path
) -> EventRun:
    """A fresh server, the clients connected, tasks posted, arrivals collected."""
    run_dir = workdir / f"events-{config.name}"
    run_dir.mkdir()
    port = free_port()
    base, log = f"http://{HOST}:{port}", run_dir / "server.log"
    server = start_server(config, port, processes, run_dir)
    fleet: Fleet = []
    try:
        token = server_ready(config, server, base, port, run_dir)
        post_tasks(base, token, 2 if config.server == "up" else 16, 0.0)  # warm-up, not timed
        ws_url = f"ws://{HOST}:{port}/api/v1/ws/events?access_token={token}"
        fleet = start_fleet(processes, ws_url, config, run_dir)
        procs = [server, *(proc for proc, _, _ in fleet)]
        wait_for(lambda: all(r.exists() for _, r, _ in fleet), procs, 180, "clients", 0.2)
        time.sleep(1.0)  # let every stream join the server's fan-out
        owners = connection_owners(port, server.pid)
        before = cpu_snapshot(server, fleet)
        sent = post_tasks(base, token, events, interval)
        after = cpu_snapshot(server, fleet)  # the posting window only
        time.sleep(SETTLE_SECONDS)  # stragglers; what has not arrived by then counts as lost
        logged = len(log_lines(log))  # what follows is the servers' shutdown
    finally:
        for proc, _, _ in fleet:
            processes.stop(proc, timeout=120)  # SIGTERM: the clients parse, write, exit
        processes.stop(server)
    usage = {
        "window_seconds": after[0] - before[0],
        "machine": after[1] - before[1],
        "server": after[2] - before[2],
        "clients": after[3] - before[3],
    }
    run = summarise_events(config, read_fleet(fleet), sent, usage, owners)
    lines = log_lines(log)
    run.server_log_trouble = {
        "run": log_trouble(lines[:logged]),
        "stop": log_trouble(lines[logged:]),
    }
    return run


def log_trouble(lines: Sequence[str]) -> dict[str, int]:
    """Warning, error and exception lines (not the traceback frames) and how often each came."""
    trouble = [line for line in lines if LOG_TROUBLE.search(line) and line[:1].strip()]
    return dict(
        Counter(line for line in trouble if not line.startswith("Traceback")).most_common(20)
    )


def server_env(data_dir: Path, port: int) -> dict[str, str]:
    """A server on a fresh SQLite data dir, rate limits out of the way."""
    lifted = str(1_000_000)
    return {
        **base_env(),
        "MISSIONCTL_DATA_DIR": str(data_dir),
        "MISSIONCTL_HOST": HOST,
        "MISSIONCTL_PORT": str(port),
        "MISSIONCTL_RATE_LIMIT_READ": lifted,
        "MISSIONCTL_RATE_LIMIT_WRITE": lifted,
        "MISSIONCTL_RATE_LIMIT_AUTH": lifted,
    }


def start_server(
    config: EventConfig, port: int, processes: Processes, run_dir: Path
) -> subprocess.Popen[bytes]:
    """`missionctl up --no-demo`, or the schema and an admin, then `missionctl api --workers 2`."""
    env = server_env(run_dir / "data", port)
    if config.server == "up":
        command = [missionctl_bin(), "up", "--no-demo", "--port", str(port)]
    else:
        create_admin(env, run_dir / "setup.log")
        command = [missionctl_bin(), "api", "--workers", str(API_WORKERS), "--port", str(port)]
    return processes.start(command, env=env, log=run_dir / "server.log")


def create_admin(env: dict[str, str], log: Path) -> None:
    """The schema, then the admin the bench signs in as (`missionctl api` creates no user)."""
    create = ["users", "create", "--tenant", "default", "--email", ADMIN_EMAIL, "--role", "admin"]
    steps = ((["db", "upgrade"], ""), ([*create, "--password-stdin"], ADMIN_PASSWORD))
    with log.open("wb") as out:
        for args, stdin in steps:
            command, feed = [missionctl_bin(), *args], f"{stdin}\n".encode()
            done = subprocess.run(
                command, env=env, input=feed, stdout=out, stderr=out, timeout=120, check=False
            )
            if done.returncode:
                tail = "\n".join(log_lines(log)[-10:])
                raise RuntimeError(
                    f"`missionctl {' '.join(args)}` exited {done.returncode}:\n{tail}"
                )


def server_ready(
    config: EventConfig, server: subprocess.Popen[bytes], base: str, port: int, run_dir: Path
) -> str:
    """Wait until every server process listens and answers; an access token for its admin."""
    if config.server != "up":  # uvicorn listens once its app has started

        def listening() -> bool:
            return sum(state == "0A" for state, _, _ in tcp_sockets(port)) >= API_WORKERS

        wait_for(listening, [server], 90, f"{API_WORKERS} API processes listening", 0.2)
    wait_ready(server, base, run_dir / "server.log")
    if config.server == "up":
        lines = (run_dir / "data" / "initial-admin.txt").read_text().splitlines()
        fields = dict(line.split(": ", 1) for line in lines if ": " in line)
        credentials = {"email": fields["email"], "password": fields["password"]}
    else:
        credentials = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    return str(http_json(f"{base}/api/v1/auth/login", credentials)["access_token"])


def post_tasks(base: str, token: str, count: int, interval: float) -> dict[str, float]:
    """Create `count` tasks `interval` s apart; task id -> time.time() just before its POST."""
    sent: dict[str, float] = {}
    start = time.monotonic()
    for index in range(count):
        delay = start + index * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        at = time.time()
        task = http_json(f"{base}/api/v1/tasks", {"title": f"bench event {index}"}, token)
        sent[str(task["task_id"])] = at
    return sent


def start_fleet(processes: Processes, ws_url: str, config: EventConfig, workdir: Path) -> Fleet:
    """`config.spread` client processes sharing `config.clients` WebSocket connections."""
    clients, spread = config.clients, config.spread
    fleet = []
    for index in range(spread):
        count = clients // spread + (1 if index < clients % spread else 0)
        ready, out = workdir / f"ready-{index}.json", workdir / f"clients-{index}.json"
        args = [sys.executable, str(Path(__file__).resolve()), "ws-clients", ws_url]
        args += [str(count), str(ready), str(out)]
        proc = processes.start(args, env=base_env(), log=workdir / f"clients-{index}.log")
        fleet.append((proc, ready, out))
    return fleet


def cpu_snapshot(
    server: subprocess.Popen[bytes], fleet: Fleet
) -> tuple[float, float, float, float]:
    """Wall time, and CPU seconds so far of the machine, the server's group and the clients."""
    clients = cpu_of([proc for proc, _, _ in fleet])
    return time.monotonic(), machine_busy_seconds(), group_cpu_seconds(server.pid), clients


# --------------------------------------------------------------------------- statistics


def read_fleet(fleet: Fleet) -> dict[str, Any]:
    """The client processes' result files, merged."""
    merged: dict[str, Any] = {"connected": 0, "negotiated": "", "clients": [], "ports": []}
    for _proc, _ready, out in fleet:
        if not out.exists():
            raise RuntimeError(f"a client process wrote no results ({out.name})")
        data = json.loads(out.read_text())
        merged["connected"] += data["connected"]
        merged["negotiated"] = merged["negotiated"] or data["negotiated"]
        merged["clients"] += data["clients"]
        merged["ports"] += data["ports"]
    return merged


def latencies(
    arrivals: Sequence[Sequence[Sequence[Any]]], sent: dict[str, float]
) -> dict[str, Any]:
    """Per (client, event) pair: from commit and from POST; per event: spread and POST->commit."""
    commit_lat, post_lat, complete = [], [], 0
    per_event: dict[str, list[float]] = {}
    created: dict[str, float] = {}
    for records in arrivals:
        ours = [r for r in records if r[1] in sent]
        complete += len({r[1] for r in ours}) == len(sent)
        for _event_id, task_id, created_at, received in ours:
            commit_lat.append(received - created_at)
            post_lat.append(received - sent[task_id])
            created[task_id] = created_at
            per_event.setdefault(task_id, []).append(received)
    return {
        "commit": commit_lat,
        "post": post_lat,
        "complete": complete,
        "spread": [max(times) - min(times) for times in per_event.values()],
        "first": [min(times) - created[task] for task, times in per_event.items()],
        "post_to_commit": [created[task] - sent[task] for task in created],
        "per_event": [
            {
                "post_to_commit_ms": round((created[task] - sent[task]) * 1000, 2),
                **{
                    f"commit_to_client_{key}_ms": value
                    for key, value in summary_ms([t - created[task] for t in times]).items()
                },
            }
            for task, times in ((task, per_event[task]) for task in sent if task in per_event)
        ],
    }


def by_server_process(
    fleet: dict[str, Any], owners: dict[int, int], sent: dict[str, float]
) -> list[dict[str, Any]]:
    """Clients each server process held (pid 0: not found), and their p50/p99 from commit."""
    groups: dict[int, list[Any]] = {}
    for port, records in zip(fleet["ports"], fleet["clients"], strict=True):
        groups.setdefault(owners.get(port, 0), []).append(records)
    result = []
    for pid, arrivals in sorted(groups.items(), key=lambda item: -len(item[1])):
        commit = summary_ms(latencies(arrivals, sent)["commit"])
        result.append(
            {"pid": pid, "clients": len(arrivals)}
            | {f"commit_to_client_{key}_ms": commit.get(key) for key in ("p50", "p99")}
        )
    return result


def summarise_events(
    config: EventConfig,
    fleet: dict[str, Any],
    sent: dict[str, float],
    usage: dict[str, float],
    owners: dict[int, int],
) -> EventRun:
    """Latencies over every (client, event) pair; CPU seconds used while the tasks were posted."""
    lat = latencies(fleet["clients"], sent)
    window = usage["window_seconds"]
    commit = summary_ms(lat["commit"])
    expected = config.clients * len(sent)
    return EventRun(
        config=config,
        connected=fleet["connected"],
        events=len(sent),
        pairs_expected=expected,
        pairs_received=len(lat["commit"]),
        clients_with_every_event=lat["complete"],
        commit_to_client_ms=commit,
        post_to_client_ms=summary_ms(lat["post"]),
        post_to_commit_ms=summary_ms(lat["post_to_commit"]),
        first_arrival_ms=summary_ms(lat["first"]),
        fanout_spread_ms=summary_ms(lat["spread"]),
        machine_busy_cores=round(usage["machine"] / window, 2),
        server_cores=round(usage["server"] / window, 2),
        client_cores=round(usage["clients"] / window, 2),
        server_cpu_ms_per_event=round(usage["server"] * 1000 / max(1, len(sent)), 1),
        negotiated=fleet["negotiated"],
        server_processes=by_server_process(fleet, owners, sent),
        per_event=lat["per_event"],
        meets_goal=bool(commit)
        and commit["p99"] < GOAL_EVENT_P99_MS
        and len(lat["commit"]) == expected,
    )


# --------------------------------------------------------------------------- reporting


def event_rows(runs: Sequence[EventRun]) -> list[Row]:
    """p50 / p99 from commit to client for each configuration."""
    rows = []
    for run in runs:
        lat, post = run.commit_to_client_ms, run.post_to_client_ms
        held = " / ".join(str(process["clients"]) for process in run.server_processes)
        if len(run.server_processes) > 1:  # and how fast each process's clients heard
            held = " / ".join(
                f"{p['clients']} (p50/p99 {p['commit_to_client_p50_ms'] or 0:.1f}/"
                f"{p['commit_to_client_p99_ms'] or 0:.1f})"
                for p in run.server_processes
            )
        rows.append(
            Row(
                run.config.label,
                f"{lat.get('p50', float('nan')):.1f} / {lat.get('p99', float('nan')):.1f}",
                f"p99 < {GOAL_EVENT_P99_MS:.0f}",
                "met" if run.meets_goal else "NOT met",
                ("headline; " if run.config.name == "up" else "")
                + f"{run.clients_with_every_event}/{run.config.clients} clients got all "
                f"{run.events} events; from POST p50/p99 {post.get('p50', 0):.1f}/"
                f"{post.get('p99', 0):.1f}; first client p50 "
                f"{run.first_arrival_ms.get('p50', 0):.1f}, spread to the last p50 "
                f"{run.fanout_spread_ms.get('p50', 0):.1f}; cores busy: server "
                f"{run.server_cores:.2f}, clients {run.client_cores:.2f}, all "
                f"{run.machine_busy_cores:.2f}; server CPU per task and its event "
                f"{run.server_cpu_ms_per_event:.1f} ms; clients per server process {held}",
            )
        )
    return rows


def events_note(runs: Sequence[dict[str, Any]]) -> str:
    """What the event rows were measured with, and what the server logs said (from the JSON)."""
    negotiated = ", ".join(sorted({run["negotiated"] for run in runs}))
    note = "Events: SQLite, a fresh data dir per configuration; the clients offer "
    note += f"permessage-deflate, negotiated: {negotiated}. Warnings/errors in the server logs:"
    said: dict[tuple[str, str], list[str]] = {}
    for run in runs:
        for when, lines in run["server_log_trouble"].items():
            for line, times in lines.items():
                said.setdefault((when, line[:140]), []).append(f"{run['config']['name']} {times}")
    for (when, line), where in said.items():
        stage = "while running" if when == "run" else "at shutdown"
        note += f"\n  {stage}: {line} ({', '.join(where)})"
    return note + ("" if said else " none")


# --------------------------------------------------------------------------- ws-clients role


@functools.cache
def _stamped_connection() -> type[Any]:
    """A websockets client connection that, once told to, only notes what arrives and when.

    During the measurement `data_received` appends (arrival time, bytes) and returns: no frame
    parsing, no waking of a reading coroutine. With hundreds of sockets readable at once, the
    event loop reaches each one within microseconds of the previous, so the stamps are the
    arrival times, not the client's own queueing, and the client takes little CPU away from the
    server on a 2-core machine. `replay()` parses the bytes afterwards with the connection's own
    protocol (and extensions, if any were negotiated) and pairs each text message with the
    arrival time of the chunk that completed it.
    """
    from websockets.asyncio.client import ClientConnection
    from websockets.frames import Frame, Opcode

    class StampedConnection(ClientConnection):
        collecting = False

        def data_received(self, data: bytes) -> None:
            """Note the chunk and its arrival time (while collecting); else parse as usual."""
            if self.collecting:
                self.chunks.append((time.time(), data))
                return
            super().data_received(data)

        def collect(self) -> None:
            """From now on only note what arrives."""
            self.chunks: list[tuple[float, bytes]] = []
            self.collecting = True

        def replay(self) -> list[tuple[float, str]]:
            """Parse what arrived: each text message with its arrival time."""
            messages = []
            for arrived, data in self.chunks:
                self.protocol.receive_data(data)
                for frame in self.protocol.events_received():
                    if isinstance(frame, Frame) and frame.opcode is Opcode.TEXT and frame.fin:
                        messages.append((arrived, bytes(frame.data).decode()))
            return messages

    return StampedConnection


async def _open(url: str, gate: asyncio.Semaphore) -> Any:
    from websockets.asyncio.client import connect

    async with gate:
        return await connect(
            url,
            compression="deflate",  # offered, as browsers do; the server declines it
            proxy=None,
            ping_interval=None,
            open_timeout=60,
            max_queue=None,
            create_connection=_stamped_connection(),
        )


async def _fleet(url: str, count: int, ready: Path) -> dict[str, Any]:
    """Open `count` streams, say so in `ready`, collect until SIGTERM, then parse."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    opened = await asyncio.gather(*(_open(url, gate) for _ in range(count)), return_exceptions=True)
    sockets = [ws for ws in opened if not isinstance(ws, BaseException)]
    errors = [repr(exc) for exc in opened if isinstance(exc, BaseException)]
    for ws in sockets:
        ws.collect()
    ready.write_text(json.dumps({"connected": len(sockets), "errors": errors[:5]}))
    await asyncio.wait_for(stop.wait(), timeout=900)
    extensions = sockets[0].protocol.extensions if sockets else []
    return {
        "connected": len(sockets),
        "errors": errors[:5],
        "negotiated": ", ".join(type(ext).__name__ for ext in extensions) or "none",
        "ports": [ws.local_address[1] for ws in sockets],
        "clients": [
            [_arrival(at, message) for at, message in ws.replay() if TASK_CREATED in message]
            for ws in sockets
        ],
    }


def _arrival(received: float, message: str) -> list[Any]:
    event = json.loads(message)["event"]
    created = datetime.fromisoformat(event["created_at"]).timestamp()
    return [event["event_id"], event["subject_id"], created, received]


def ws_clients_main(argv: Sequence[str]) -> int:
    """The `ws-clients URL COUNT READY_FILE OUT_FILE` role of this script."""
    url, count, ready, out = argv
    raise_nofile_limit()
    result = asyncio.run(_fleet(url, int(count), Path(ready)))
    Path(out).write_text(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # no closing handshakes for hundreds of sockets: the server is stopped next


if __name__ == "__main__":
    if len(sys.argv) != 6 or sys.argv[1] != "ws-clients":
        sys.exit(f"usage: {sys.argv[0]} ws-clients URL COUNT READY_FILE OUT_FILE")
    sys.exit(ws_clients_main(sys.argv[2:]))
