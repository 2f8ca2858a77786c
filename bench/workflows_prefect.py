"""The Prefect peer of the workflow benchmark: a 100-task chain and a 1000-item map.

Runs with the interpreter of `.bench-venvs/prefect` (created with `python3 -m venv` and
`pip install 'prefect==3.9.*'`); it cannot run in the project's venv, which has no Prefect.

What it does
    Prefect 3 runs fully offline on this machine, with the settings below put in the environment
    before Prefect is imported (every PREFECT_* and OTEL_* variable already there is dropped
    first, and so are proxy variables):

    - `PREFECT_HOME` is `<--dir>/prefect_home` (fresh profiles, no `~/.prefect`), and the
      working directory is `--dir`, so no `.env`, `prefect.toml` or `pyproject.toml` of the
      caller's is read.
    - `PREFECT_API_URL` is unset: Prefect starts its ephemeral API server (uvicorn, a subprocess,
      on 127.0.0.1 at a random port in 8000-8999) the first time a client is needed. This script
      starts it before any flow (timed as `server_start_s`, migrations of a fresh database
      included). Its database is SQLite, `<--dir>/prefect.db` (`--database sqlite`, the default;
      Prefect itself sets WAL, synchronous=NORMAL on it), or PostgreSQL (`--database postgres`):
      the database named in `--pg-url` (default `mc_bench_prefect` on 127.0.0.1:5432, user
      postgres) is dropped if it exists, created empty for the run, and dropped at the end. Its
      name must contain "bench"; only 127.0.0.1/localhost are accepted as its host.
    - Nothing calls out: `PREFECT_SERVER_ANALYTICS_ENABLED=false` (the server's telemetry
      service), `DO_NOT_TRACK=1` (the client's Amplitude telemetry),
      `PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY=false`,
      `PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS=false`, `PREFECT_SERVER_UI_ENABLED=false`, and
      `PREFECT_CLOUD_API_URL`/`PREFECT_CLOUD_UI_URL` point at a closed loopback port.
    - The ephemeral server's start-up timeout is raised to 300 s (20 s by default: too short for
      the migrations of a fresh database on a busy 2-core machine).

    Everything else is Prefect's default: results are not persisted (Prefect 3's default), the
    default cache policy, logs at INFO to the console (stderr) and to the API, task run states sent
    to the server as events (over a WebSocket) and written by the server's task run recorder.

    Flow A, "linear": one flow calling `--steps` (default 100) no-op tasks one after the other,
    each taking the previous one's output (`x + 1`). Flow B, "map": one flow with
    `ThreadPoolTaskRunner(max_workers=--concurrency)` (default 16) mapping a no-op task over
    `--items` (default 1000) integers (`task.map(range(items))`, then `.result()` on the futures).
    Both are called directly in this thread (no deployment, worker or work pool). Each flow runs
    once untimed (warm-up), then `--rounds` (default 3) times. Per round:

    - `rounds_s`: wall time of the flow call, `flow(n, return_state=True)`, from the call to its
      return with the final state (flow run creation and its state changes through the API, every
      task run, the flow engine's teardown). `median_s` is their median, and `ms_per_step`,
      `steps_per_s` (linear) or `items_per_s`, `ms_per_item` (map) come from it.
    - `rounds_inside_s`: time measured inside the flow body around the chain of tasks (or the map
      and its `.result()`), as bench/dbos_steps.py measures inside its workflow;
      `ms_per_step_inside` / `ms_per_item_inside` come from its median.
    - `rounds_recorded_s`: Prefect records task runs asynchronously (the flow does not wait for
      them to be written), so after each call the script polls the API (`POST
      /task_runs/count`, every 50 ms) until it counts all of that flow run's task runs as
      COMPLETED; this is the time from the flow call to then. Waiting also keeps one round's
      backlog out of the next round.

    The flow run heartbeat: Prefect 3.9 turns it on by default (every 180 s), from a thread that
    sleeps in 1 s slices and that the flow engine joins when the flow ends, so a synchronous flow
    call lasts a whole number of seconds plus a little (a 100-task flow whose body takes 0.37 s
    returns after 1.07 s). `--heartbeat default` (the default) keeps it; `--heartbeat off` turns
    it off in-process (`temporary_settings(PREFECT_FLOWS_HEARTBEAT_FREQUENCY=None)`: the
    environment variable cannot say None). `flow_heartbeat_s` in the JSON says which ran.

    Also reported: `import_s` (importing Prefect) and `server_start_s` (starting the ephemeral
    server, database migrations included), neither part of any round.

    Output: one JSON object on stdout (file descriptor 1 is pointed at stderr while Prefect runs,
    for this process and the server it starts, so only the JSON reaches the real stdout); logs go
    to stderr. With the defaults a run takes about 2 minutes, most of it waiting for the server to
    record the map flow's task runs.

Run: `.bench-venvs/prefect/bin/python bench/workflows_prefect.py --dir /tmp/somewhere
[--rounds 3] [--steps 100] [--items 1000] [--concurrency 16] [--database sqlite|postgres]
[--pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/mc_bench_prefect]
[--heartbeat default|off]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/mc_bench_prefect"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
DEAD_LOCAL_URL = "http://127.0.0.1:9"  # the discard port: nothing listens there
RECORD_TIMEOUT_S = 300.0
RECORD_POLL_S = 0.05
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")  # any case


def log(message: str) -> None:
    """A progress line on stderr."""
    print(f"[workflows_prefect] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--dir", type=Path, required=True, help="PREFECT_HOME and SQLite go here")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each flow")
    parser.add_argument("--steps", type=int, default=100, help="sequential tasks in flow A")
    parser.add_argument("--items", type=int, default=1000, help="mapped items in flow B")
    parser.add_argument("--concurrency", type=int, default=16, help="flow B's thread pool size")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="with --database postgres")
    parser.add_argument(
        "--heartbeat",
        choices=("default", "off"),
        default="default",
        help="off: no flow run heartbeat thread (Prefect 3.9 runs one every 180 s by default)",
    )
    args = parser.parse_args(argv)
    for name in ("rounds", "steps", "items", "concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


# --------------------------------------------------------------------------- PostgreSQL


def pg_database(url: str) -> tuple[str, str]:
    """The database name in `url` and an asyncpg URL of the same server's `postgres` database."""
    parts = urlsplit(url)
    if parts.scheme != "postgresql+asyncpg":
        raise SystemExit(f"--pg-url must be postgresql+asyncpg://..., not {url!r}")
    if parts.hostname not in LOCAL_HOSTS:
        raise SystemExit(f"--pg-url must point at 127.0.0.1 or localhost, not {parts.hostname!r}")
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or "bench" not in name:
        raise SystemExit(
            f"the database in --pg-url must be a plain name containing 'bench': {name!r}"
        )
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    return name, admin


async def _pg_execute(admin_url: str, *statements: str) -> None:
    import asyncpg  # installed with prefect

    conn = await asyncpg.connect(admin_url, timeout=30)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def recreate_pg_database(url: str) -> None:
    """Drop the run's database if it exists, then create it empty."""
    name, admin = pg_database(url)
    log(f"PostgreSQL: recreating database {name}")
    asyncio.run(
        _pg_execute(
            admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
        )
    )


def drop_pg_database(url: str) -> None:
    """Drop the run's database (after the server has stopped)."""
    name, admin = pg_database(url)
    log(f"PostgreSQL: dropping database {name}")
    asyncio.run(_pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --------------------------------------------------------------------------- environment


def offline_environment(workdir: Path, database_url: str) -> dict[str, str]:
    """The PREFECT_* settings of the run (see the module docstring)."""
    home = workdir / "prefect_home"
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": database_url,
        "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
        "PREFECT_CLOUD_API_URL": f"{DEAD_LOCAL_URL}/api",
        "PREFECT_CLOUD_UI_URL": DEAD_LOCAL_URL,
        "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
        "DO_NOT_TRACK": "1",
        "NO_PROXY": ",".join(LOCAL_HOSTS),
        "no_proxy": ",".join(LOCAL_HOSTS),
    }


def apply_environment(settings: dict[str, str]) -> None:
    """Drop inherited PREFECT_*, OTEL_* and proxy variables; set ours (before importing prefect)."""
    for key in list(os.environ):
        if key.startswith(("PREFECT_", "OTEL_")) or key.upper() in PROXY_VARIABLES:
            del os.environ[key]
    os.environ.update(settings)


def redirect_stdout_to_stderr() -> int:
    """Point fd 1 at stderr (for us and any child); return a duplicate of the real stdout."""
    sys.stdout.flush()
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    return real_stdout


# --------------------------------------------------------------------------- benchmark


def median_figures(rounds: list[float]) -> float:
    """The median of `rounds`, rounded for the JSON."""
    return round(statistics.median(rounds), 6)


def run_benchmark(args: argparse.Namespace, database: str) -> dict[str, Any]:
    """Import Prefect (the environment is set), start its server, run and time both flows."""
    started = time.perf_counter()
    import httpx
    import prefect
    from prefect import flow, task
    from prefect.client.orchestration import get_client
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )
    from prefect.task_runners import ThreadPoolTaskRunner

    import_s = time.perf_counter() - started

    @task
    def add_one(value: int) -> int:
        """A no-op step: the previous output plus one."""
        return value + 1

    @task
    def echo(value: int) -> int:
        """A no-op mapped task."""
        return value

    @flow(name="mc-bench-linear")
    def linear_flow(steps: int) -> tuple[int, float]:
        """`steps` tasks in a chain; the last output and the seconds spent in the chain."""
        begin = time.perf_counter()
        value = 0
        for _ in range(steps):
            value = add_one(value)
        return value, time.perf_counter() - begin

    @flow(name="mc-bench-map", task_runner=ThreadPoolTaskRunner(max_workers=args.concurrency))
    def map_flow(items: int) -> tuple[int, float]:
        """`items` mapped task runs; how many results came back and the seconds it took."""
        begin = time.perf_counter()
        futures = echo.map(range(items))
        results = futures.result()
        elapsed = time.perf_counter() - begin
        if results != list(range(items)):
            raise RuntimeError("the mapped task runs returned wrong results")
        return len(results), elapsed

    started = time.perf_counter()
    with get_client(sync_client=True) as client:  # starts the ephemeral server
        client.hello()
    server = SubprocessASGIServer()
    api_url = server.api_url
    server_start_s = time.perf_counter() - started
    log(
        f"Prefect {prefect.__version__}: ephemeral API at {api_url} ({database}), "
        f"started in {server_start_s:.2f} s"
    )

    http = httpx.Client(base_url=api_url, timeout=30, trust_env=False)

    def completed_task_runs(flow_run_id: str) -> int:
        body = {
            "flow_runs": {"id": {"any_": [flow_run_id]}},
            "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
        }
        response = http.post("/task_runs/count", json=body)
        response.raise_for_status()
        return int(response.json())

    def timed_run(flow_fn: Any, size: int) -> tuple[float, float, float]:
        """Wall time of one flow call, time in its body, time until its task runs are recorded."""
        begin = time.perf_counter()
        state = flow_fn(size, return_state=True)
        wall = time.perf_counter() - begin
        value, inside = state.result() if state.is_completed() else (None, 0.0)
        if value != size:
            raise RuntimeError(f"{flow_fn.name} ended {state!r} with {value!r}, not {size}")
        flow_run_id = str(state.state_details.flow_run_id)
        deadline = time.monotonic() + RECORD_TIMEOUT_S
        while (count := completed_task_runs(flow_run_id)) < size:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"only {count}/{size} task runs recorded after {RECORD_TIMEOUT_S} s"
                )
            time.sleep(RECORD_POLL_S)
        return wall, inside, time.perf_counter() - begin

    def measure(flow_fn: Any, size: int) -> dict[str, Any]:
        warmup_s, _, warmup_recorded_s = timed_run(flow_fn, size)
        log(f"{flow_fn.name}: warm-up {warmup_s:.3f} s (recorded after {warmup_recorded_s:.3f} s)")
        walls, insides, recorded = [], [], []
        for index in range(args.rounds):
            wall, inside, until_recorded = timed_run(flow_fn, size)
            walls.append(round(wall, 6))
            insides.append(round(inside, 6))
            recorded.append(round(until_recorded, 6))
            log(
                f"{flow_fn.name}: round {index + 1}/{args.rounds} {wall:.3f} s "
                f"(body {inside:.3f} s, recorded after {until_recorded:.3f} s)"
            )
        return {
            "rounds_s": walls,
            "median_s": median_figures(walls),
            "warmup_s": round(warmup_s, 6),
            "rounds_inside_s": insides,
            "median_inside_s": median_figures(insides),
            "rounds_recorded_s": recorded,
            "median_recorded_s": median_figures(recorded),
        }

    heartbeat_updates = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None} if args.heartbeat == "off" else {}
    try:
        with temporary_settings(updates=heartbeat_updates):
            heartbeat_s = get_current_settings().flows.heartbeat_frequency
            log(f"flow run heartbeat every {heartbeat_s} s" if heartbeat_s else "no flow heartbeat")
            linear = measure(linear_flow, args.steps)
            mapped = measure(map_flow, args.items)
    finally:
        http.close()
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=30)
        EventsWorker.drain_all(timeout=30)
        server.stop()

    return {
        "version": prefect.__version__,
        "python": sys.version.split()[0],
        "import_s": round(import_s, 3),
        "server_start_s": round(server_start_s, 3),
        "flow_heartbeat_s": heartbeat_s,
        "linear": {
            "steps": args.steps,
            **linear,
            "ms_per_step": round(linear["median_s"] * 1000 / args.steps, 4),
            "steps_per_s": round(args.steps / linear["median_s"], 2),
            "ms_per_step_inside": round(linear["median_inside_s"] * 1000 / args.steps, 4),
        },
        "map": {
            "items": args.items,
            "concurrency": args.concurrency,
            **mapped,
            "items_per_s": round(args.items / mapped["median_s"], 2),
            "ms_per_item": round(mapped["median_s"] * 1000 / args.items, 4),
            "ms_per_item_inside": round(mapped["median_inside_s"] * 1000 / args.items, 4),
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Set the offline environment, run the benchmark, print one JSON object on stdout."""
    args = parse_args(argv)
    workdir = args.dir.resolve()
    if args.database == "postgres":
        database_url = args.pg_url
        database = f"postgresql ({pg_database(args.pg_url)[0]} on 127.0.0.1)"
    else:
        database_url = f"sqlite+aiosqlite:///{workdir / 'prefect.db'}"
        database = "sqlite (file)"
    workdir.mkdir(parents=True, exist_ok=True)
    real_stdout = redirect_stdout_to_stderr()
    apply_environment(offline_environment(workdir, database_url))
    os.chdir(workdir)
    if args.database == "postgres":
        recreate_pg_database(args.pg_url)
    try:
        figures = run_benchmark(args, database)
    finally:
        if args.database == "postgres":
            drop_pg_database(args.pg_url)
    result = {"peer": "prefect", "version": figures.pop("version"), "database": database, **figures}
    with os.fdopen(real_stdout, "w") as out:
        out.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
