"""Engine benchmark: job throughput, checkpointed-step overhead (against DBOS), event latency.

What it measures (the engine issue's goals)
    1. No-op jobs/s: N no-op jobs (default 20,000) run by `missionctl worker --concurrency 4`
       processes: on SQLite (one process) and on PostgreSQL (one, then two processes), each on
       fresh data, three times; the median counts. Goal on SQLite: >= 2,000 jobs/s. PostgreSQL
       runs twice more with `ANALYZE jobs` in the enqueueing transaction: a fresh table has no
       planner statistics, and the claim query's plan (and speed) depends on them.
    2. Per-step overhead of a 100-step checkpointed job on SQLite (`job.step(...)` no-op steps,
       timed inside the handler), ~15 jobs one after another on one worker, and in the same run
       the same 100-step workflow in DBOS 3.4 (SQLite system database, WAL,
       synchronous=NORMAL; bench/dbos_steps.py). Goal: ours <= 0.5 x DBOS's.
    3. Event latency from commit to 1,000 WebSocket clients on /api/v1/ws/events, ~50 tasks
       created over HTTP 100 ms apart; every (client, task.created event) pair is timed from the
       event's `created_at` to its arrival. Goal: p99 < 50 ms. The headline is `missionctl up
       --no-demo` with the clients in two client processes; also measured: a 10-client floor,
       all clients in one client process, and `missionctl api --workers 2`. This part lives in
       bench/engine_events.py (its docstring says how); it is run from here.

How
    - Throughput: fresh database (a new SQLite file, or `mc_bench_engine` dropped and created
      again on PostgreSQL), migrated; the worker processes start and register; then N jobs are
      enqueued in one transaction with `enqueue_many`. Throughput is N / (max(finished_at) -
      min(started_at)) read back from the jobs table, so process start-up is not counted (the
      workers are up before the first job exists, which also keeps the second PostgreSQL worker's
      start-up out of the window). Every job must have succeeded.
    - Steps: the `bench.steps` kind of bench/engine_plugin.py (workers load it with
      `PYTHONPATH=bench MISSIONCTL_PLUGINS=engine_plugin`) returns its own time per step, read back
      from the job's `result`. Jobs are enqueued one at a time, each after the previous finished.
    - DBOS: `.bench-venvs/dbos` is created (`python3 -m venv`, `pip install 'dbos==3.4.*'`) when
      missing; that pip install is the only download, and only then.
    - Events: see bench/engine_events.py. Helpers both files use are in bench/bench_common.py.

Everything runs on 127.0.0.1; every process started is stopped (SIGTERM, then SIGKILL), temp
dirs are removed and the PostgreSQL bench database is dropped at the end.

Run: `.venv/bin/python bench/engine.py [--quick] [--parts throughput,steps,events]
[--jobs N] [--repeats R] [--clients C] [--events E] [--no-postgres] [--keep]`
(about 6 minutes, the events part 2 of them; `--quick` about 2). Results: a table on
stdout, JSON in bench/results/engine-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select, text

from bench_common import (
    BENCH_DIR,
    RESULTS_DIR,
    ROOT,
    Row,
    base_env,
    busy_cores_now,
    cpu_of,
    machine_facts,
    markdown_table,
    peer_python,
    raise_nofile_limit,
    raise_on_sigterm,
    wait_for,
    workspace,
)
from board_list import Processes, machine_busy_seconds, missionctl_bin
from engine_events import GOAL_EVENT_P99_MS, event_rows, events_note, measure_events
from engine_plugin import NOOP_KIND, STEPS_KIND
from missionctl import migrations
from missionctl import tables as _all_tables  # noqa: F401 - map every table (FK column types)
from missionctl.db import Database, make_engine
from missionctl.engine.service import JOB_TABLE as JOBS
from missionctl.engine.service import NewJob, enqueue, enqueue_many

DBOS_VENV = ROOT / ".bench-venvs" / "dbos"
DBOS_SCRIPT = BENCH_DIR / "dbos_steps.py"
DBOS_VERSION = "3.4."  # dbos==3.4.*
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "mc_bench_engine"
SECRET_KEY = "bench-engine-" + "k" * 40
WORKER_CONCURRENCY = 4
PARTS = ("throughput", "steps", "events")

GOAL_JOBS_PER_S = 2000.0
GOAL_STEP_RATIO = 0.5


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    """What to run."""

    quick: bool
    parts: tuple[str, ...]
    jobs: int
    repeats: int
    step_jobs: int
    steps: int
    dbos_warmup: int
    clients: int
    events: int
    event_interval: float
    postgres_url: str | None
    keep: bool


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Command-line options; `--quick` shrinks the defaults for a smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--parts", default=",".join(PARTS), help="some of " + ", ".join(PARTS))
    parser.add_argument("--jobs", type=int, help="no-op jobs per run (default 20000)")
    parser.add_argument("--repeats", type=int, help="runs per throughput configuration (3)")
    parser.add_argument("--step-jobs", type=int, help="timed 100-step jobs and workflows (15)")
    parser.add_argument("--steps", type=int, default=100, help="steps per job/workflow")
    parser.add_argument("--clients", type=int, help="WebSocket clients (default 1000)")
    parser.add_argument("--events", type=int, help="tasks created per event run (default 50)")
    parser.add_argument("--event-interval", type=float, default=0.1, help="seconds between tasks")
    parser.add_argument("--postgres-url", default=PG_ADMIN_URL, help="an admin URL to create from")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    parts = tuple(part.strip() for part in args.parts.split(",") if part.strip())
    if not parts or any(part not in PARTS for part in parts):
        parser.error(f"--parts takes some of: {', '.join(PARTS)}")
    quick = args.quick
    opts = Options(
        quick=quick,
        parts=parts,
        jobs=args.jobs or (2_000 if quick else 20_000),
        repeats=args.repeats or (1 if quick else 3),
        step_jobs=args.step_jobs or (3 if quick else 15),
        steps=args.steps,
        dbos_warmup=1 if quick else 3,
        clients=args.clients or (100 if quick else 1_000),
        events=args.events or (10 if quick else 50),
        event_interval=args.event_interval,
        postgres_url=None if args.no_postgres else args.postgres_url,
        keep=args.keep,
    )
    if min(opts.jobs, opts.repeats, opts.step_jobs, opts.steps, opts.clients, opts.events) < 1:
        parser.error("counts must be >= 1")
    return opts


def is_standard(opts: Options) -> bool:
    """True for the full run the goals are stated for."""
    return (
        not opts.quick
        and opts.parts == PARTS
        and (opts.jobs, opts.repeats, opts.steps, opts.clients) == (20_000, 3, 100, 1_000)
        and opts.postgres_url is not None
    )


# --------------------------------------------------------------------------- environment


def worker_env(data_dir: Path, database_url: str) -> dict[str, str]:
    """Settings of a `missionctl worker` that also runs the bench's job kinds."""
    python_path = os.pathsep.join(p for p in (str(BENCH_DIR), os.environ.get("PYTHONPATH")) if p)
    return {
        **base_env(),
        "MISSIONCTL_DATA_DIR": str(data_dir),
        "MISSIONCTL_DATABASE_URL": database_url,
        "MISSIONCTL_SECRET_KEY": SECRET_KEY,
        "MISSIONCTL_PLUGINS": "engine_plugin",
        "PYTHONPATH": python_path,
    }


# --------------------------------------------------------------------------- databases


class Backends:
    """Fresh, migrated databases: new SQLite files, or the PostgreSQL bench database re-created."""

    def __init__(self, workdir: Path, postgres_admin_url: str | None) -> None:
        self.workdir = workdir
        self.postgres_admin_url = postgres_admin_url
        self._made_pg = False
        self._count = 0

    def fresh(self, backend: str) -> tuple[str, Path]:
        """A migrated, empty database of `backend` and a data dir for its processes."""
        self._count += 1
        data_dir = self.workdir / f"data-{self._count}"
        data_dir.mkdir()
        if backend == "sqlite":
            url = f"sqlite:///{data_dir / 'missionctl.db'}"
        else:
            url = self._recreate_pg()
        engine = make_engine(url)
        try:
            migrations.upgrade(engine)
        finally:
            engine.dispose()
        return url, data_dir

    def _recreate_pg(self) -> str:
        assert self.postgres_admin_url is not None
        with psycopg.connect(self.postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
        self._made_pg = True
        base = self.postgres_admin_url.rsplit("/", 1)[0]
        return f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{PG_BENCH_DB}"

    def drop_pg(self) -> None:
        """Drop the PostgreSQL bench database if this run created it."""
        if not self._made_pg or self.postgres_admin_url is None:
            return
        with psycopg.connect(self.postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
        self._made_pg = False


def postgres_answers(admin_url: str) -> str | None:
    """None when PostgreSQL accepts a connection at `admin_url`, else why not."""
    try:
        with psycopg.connect(admin_url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).splitlines()[0]
    return None


def start_workers(
    processes: Processes, count: int, concurrency: int, env: dict[str, str], log_dir: Path
) -> list[subprocess.Popen[bytes]]:
    """`count` `missionctl worker` processes."""
    command = [missionctl_bin(), "worker", "--concurrency", str(concurrency)]
    return [
        processes.start(command, env=env, log=log_dir / f"worker-{index}.log")
        for index in range(count)
    ]


def registered_workers(db: Database) -> int:
    """Worker processes that registered and have not stopped."""
    with db.engine.connect() as conn:
        query = "SELECT count(*) FROM workers WHERE role = 'worker' AND stopped_at IS NULL"
        return int(conn.execute(text(query)).scalar_one())


def finished_jobs(db: Database) -> int:
    """Jobs in a final state."""
    query = select(func.count()).where(JOBS.c.status.in_(("succeeded", "dead", "cancelled")))
    with db.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


# --------------------------------------------------------------------------- 1. throughput


@dataclass
class ThroughputRun:
    """One throughput run."""

    backend: str
    worker_processes: int
    analyzed: bool
    concurrency: int
    jobs: int
    by_status: dict[str, int]
    seconds: float
    jobs_per_s: float
    enqueue_seconds: float
    machine_busy_cores: float
    worker_cores: float
    worker_cpu_ms_per_job: float


@dataclass(frozen=True)
class ThroughputConfig:
    """A backend, a number of worker processes, and whether the planner has statistics.

    On PostgreSQL a fresh `jobs` table has none until autovacuum's analyze comes round (about
    a minute); `analyze` runs `ANALYZE jobs` in the enqueueing transaction, as a table in
    steady use would have been analyzed.
    """

    backend: str
    worker_processes: int
    analyze: bool = False

    @property
    def label(self) -> str:
        """As the table shows it."""
        name = "SQLite" if self.backend == "sqlite" else "PostgreSQL"
        plural = "es" if self.worker_processes > 1 else ""
        stats = ""
        if self.backend == "postgresql":
            stats = ", table analyzed" if self.analyze else ", fresh table (no statistics)"
        return f"No-op jobs/s, {name}, {self.worker_processes} worker process{plural} x 4{stats}"


def throughput_run(
    config: ThroughputConfig, jobs: int, backends: Backends, processes: Processes
) -> ThroughputRun:
    """Fresh data, workers up and registered, N jobs in one transaction, wait, read the times."""
    url, data_dir = backends.fresh(config.backend)
    db = Database(make_engine(url))
    try:
        env = worker_env(data_dir, url)
        usage = run_noops(db, config, jobs, env, data_dir, processes)
        by_status, seconds = job_times(db)
    finally:
        db.dispose()
    return ThroughputRun(
        backend=config.backend,
        worker_processes=config.worker_processes,
        analyzed=config.analyze,
        concurrency=WORKER_CONCURRENCY,
        jobs=jobs,
        by_status=by_status,
        seconds=round(seconds, 4),
        jobs_per_s=round(jobs / seconds, 1),
        enqueue_seconds=round(usage["enqueue_seconds"], 3),
        machine_busy_cores=round(usage["machine_busy_cores"], 2),
        worker_cores=round(usage["worker_cores"], 2),
        worker_cpu_ms_per_job=round(usage["worker_cpu_seconds"] * 1000 / jobs, 3),
    )


def run_noops(
    db: Database,
    config: ThroughputConfig,
    jobs: int,
    env: dict[str, str],
    log_dir: Path,
    processes: Processes,
) -> dict[str, float]:
    """Start the workers, enqueue, wait until every job is done, stop them; CPU used meanwhile."""
    count = config.worker_processes
    workers = start_workers(processes, count, WORKER_CONCURRENCY, env, log_dir)
    try:
        wait_for(lambda: registered_workers(db) == count, workers, 90, "workers")
        started = time.perf_counter()
        with db.transaction() as session:
            enqueue_many(session, [NewJob(NOOP_KIND) for _ in range(jobs)])
            if config.analyze:
                session.execute(text("ANALYZE jobs"))  # sees this transaction's rows
        enqueue_seconds = time.perf_counter() - started
        before = (time.monotonic(), machine_busy_seconds(), cpu_of(workers))
        wait_for(lambda: finished_jobs(db) >= jobs, workers, 60 + jobs / 200, "jobs", 0.25)
        after = (time.monotonic(), machine_busy_seconds(), cpu_of(workers))
    finally:
        for proc in workers:
            processes.stop(proc)
    wall = after[0] - before[0]
    return {
        "enqueue_seconds": enqueue_seconds,
        "machine_busy_cores": (after[1] - before[1]) / wall,
        "worker_cores": (after[2] - before[2]) / wall,
        "worker_cpu_seconds": after[2] - before[2],
    }


def job_times(db: Database) -> tuple[dict[str, int], float]:
    """Jobs by status, and max(finished_at) - min(started_at) in seconds."""
    with db.engine.connect() as conn:
        counts = conn.execute(select(JOBS.c.status, func.count()).group_by(JOBS.c.status))
        by_status = {status: int(count) for status, count in counts}
        first, last = conn.execute(
            select(func.min(JOBS.c.started_at), func.max(JOBS.c.finished_at))
        ).one()
    if first is None or last is None:
        raise RuntimeError(f"no job ran: {by_status}")
    return by_status, (last - first).total_seconds()


def measure_throughput(
    opts: Options, backends: Backends, processes: Processes, with_postgres: bool
) -> dict[str, list[ThroughputRun]]:
    """Every configuration `repeats` times, in rounds (noise drifts over a run)."""
    configs = [ThroughputConfig("sqlite", 1)]
    if with_postgres:
        configs += [ThroughputConfig("postgresql", 1), ThroughputConfig("postgresql", 2)]
        configs += [ThroughputConfig("postgresql", n, analyze=True) for n in (1, 2)]
    runs: dict[str, list[ThroughputRun]] = {config.label: [] for config in configs}
    for round_index in range(opts.repeats):
        for config in configs:
            print(f"  {config.label}, run {round_index + 1}/{opts.repeats} ...", flush=True)
            run = throughput_run(config, opts.jobs, backends, processes)
            if run.by_status.get("succeeded") != opts.jobs:
                raise RuntimeError(f"{config.label}: not every job succeeded: {run.by_status}")
            print(f"    {run.jobs_per_s:,.0f} jobs/s ({run.seconds:.2f} s)", flush=True)
            runs[config.label].append(run)
    return runs


# --------------------------------------------------------------------------- 2. steps


@dataclass
class StepsResult:
    """Our per-step overhead: one worker, jobs one after another."""

    steps: int
    jobs: int
    median_ms_per_step: float
    median_ms_per_step_whole_job: float
    runs: list[dict[str, float]] = field(default_factory=list)


def run_one_steps_job(db: Database, steps: int, timeout: float = 120.0) -> dict[str, float]:
    """Enqueue one `bench.steps` job, wait until it is done, return its own timing."""
    with db.transaction() as session:
        job_id = enqueue(session, STEPS_KIND, {"steps": steps})
    query = select(JOBS.c.status, JOBS.c.result, JOBS.c.started_at, JOBS.c.finished_at).where(
        JOBS.c.job_id == job_id
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.engine.connect() as conn:
            row = conn.execute(query).one()
        if row.status == "succeeded":
            whole = (row.finished_at - row.started_at).total_seconds()
            return {
                "ms_per_step": float(row.result["ms_per_step"]),
                "ms_per_step_whole_job": whole * 1000 / steps,
            }
        if row.status in ("dead", "failed", "cancelled"):
            raise RuntimeError(f"steps job {job_id} ended {row.status}")
        time.sleep(0.01)
    raise RuntimeError(f"steps job {job_id} did not finish in {timeout:.0f} s")


def measure_steps(opts: Options, backends: Backends, processes: Processes) -> StepsResult:
    """One SQLite worker (one job at a time); warm up with 2 jobs, then time `step_jobs`."""
    url, data_dir = backends.fresh("sqlite")
    db = Database(make_engine(url))
    (worker,) = start_workers(processes, 1, 1, worker_env(data_dir, url), data_dir)
    try:
        wait_for(lambda: registered_workers(db) == 1, [worker], 90, "the worker")
        for _ in range(2):
            run_one_steps_job(db, opts.steps)
        runs = [run_one_steps_job(db, opts.steps) for _ in range(opts.step_jobs)]
    finally:
        processes.stop(worker)
        db.dispose()
    return StepsResult(
        steps=opts.steps,
        jobs=opts.step_jobs,
        median_ms_per_step=round(statistics.median(r["ms_per_step"] for r in runs), 4),
        median_ms_per_step_whole_job=round(
            statistics.median(r["ms_per_step_whole_job"] for r in runs), 4
        ),
        runs=runs,
    )


def dbos_python() -> Path:
    """The DBOS venv's interpreter; the venv is created (and DBOS installed) when missing."""
    return peer_python(DBOS_VENV, "dbos", DBOS_VERSION)


def measure_dbos(opts: Options, workdir: Path) -> dict[str, Any]:
    """The DBOS peer (bench/dbos_steps.py in its own venv); its JSON."""
    python = dbos_python()
    args = [str(python), str(DBOS_SCRIPT), "--dir", str(workdir / "dbos")]
    args += ["--steps", str(opts.steps), "--workflows", str(opts.step_jobs)]
    args += ["--warmup", str(opts.dbos_warmup)]
    env = {**base_env(), "DBOS__CLOUD": "false"}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("DBOS_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("DBOS_JSON "))
            return result
    raise RuntimeError(f"DBOS run failed ({proc.returncode}):\n{proc.stdout}{proc.stderr[-3000:]}")


# --------------------------------------------------------------------------- reporting


def throughput_rows(runs: dict[str, list[ThroughputRun]]) -> list[Row]:
    """Medians (and the range) of each throughput configuration."""
    rows = []
    for label, config_runs in runs.items():
        rates = [run.jobs_per_s for run in config_runs]
        median = statistics.median(rates)
        cpu = statistics.median(run.worker_cpu_ms_per_job for run in config_runs)
        is_sqlite = config_runs[0].backend == "sqlite"
        rows.append(
            Row(
                label,
                f"{median:,.0f}",
                f">= {GOAL_JOBS_PER_S:,.0f}" if is_sqlite else "-",
                ("met" if median >= GOAL_JOBS_PER_S else "NOT met") if is_sqlite else "-",
                f"median of {len(rates)}: "
                + ", ".join(f"{rate:,.0f}" for rate in rates)
                + f"; worker CPU {cpu:.3f} ms/job",
            )
        )
    return rows


def steps_rows(ours: StepsResult | None, dbos: dict[str, Any] | None) -> list[Row]:
    """Ours, DBOS's and the ratio."""
    rows = []
    if ours is not None:
        rows.append(
            Row(
                f"Per-step overhead, {ours.steps}-step job, SQLite (ms)",
                f"{ours.median_ms_per_step:.3f}",
                "-",
                "-",
                f"median of {ours.jobs} jobs; whole job {ours.median_ms_per_step_whole_job:.3f}",
            )
        )
    if dbos is not None:
        rows.append(
            Row(
                f"Per-step, DBOS {dbos['dbos_version']} workflow, SQLite WAL+NORMAL (ms)",
                f"{dbos['median_ms_per_step']:.3f}",
                "-",
                "-",
                f"median of {len(dbos['runs'])}; whole workflow "
                f"{dbos['median_ms_per_step_whole_workflow']:.3f}",
            )
        )
    if ours is not None and dbos is not None:
        ratio = ours.median_ms_per_step / dbos["median_ms_per_step"]
        whole = ours.median_ms_per_step_whole_job / dbos["median_ms_per_step_whole_workflow"]
        rows.append(
            Row(
                "Per-step ratio ours / DBOS",
                f"{ratio:.2f}",
                f"<= {GOAL_STEP_RATIO}",
                "met" if ratio <= GOAL_STEP_RATIO else "NOT met",
                f"whole job / whole workflow {whole:.2f}",
            )
        )
    return rows


def print_notes(raw: dict[str, Any]) -> None:
    """What the table's figures were measured with."""
    dbos = raw.get("steps", {}).get("dbos")
    if dbos:
        print(
            f"\nDBOS {dbos['dbos_version']} (SQLAlchemy {dbos['sqlalchemy_version']}): SQLite "
            f"system database, pragmas on its engine {dbos['pragmas']}; workflows called "
            f"directly (no queue), {dbos['warmup_workflows']} warm-up workflow(s) first."
        )
    if raw.get("events"):
        print(events_note(raw["events"]))
    if raw.get("postgres_skipped"):
        print(f"PostgreSQL skipped: {raw['postgres_skipped']}")


def write_json(opts: Options, facts: dict[str, Any], results: dict[str, Any]) -> Path:
    """bench/results/engine-<UTC timestamp>[-custom].json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"engine-{stamp}{'' if is_standard(opts) else '-custom'}.json"
    document = {
        "benchmark": "engine",
        "goals": {
            "sqlite_jobs_per_s_at_least": GOAL_JOBS_PER_S,
            "step_overhead_ratio_to_dbos_at_most": GOAL_STEP_RATIO,
            "event_p99_ms_below": GOAL_EVENT_P99_MS,
        },
        "standard_run": is_standard(opts),
        "machine": facts,
        "options": asdict(opts),
        **results,
    }
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return out


# --------------------------------------------------------------------------- main


def run_parts(
    opts: Options, processes: Processes, workdir: Path, backends: Backends
) -> tuple[list[Row], dict[str, Any]]:
    """Every part asked for; the table rows and the raw results."""
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    if "throughput" in opts.parts:
        skip = postgres_answers(opts.postgres_url) if opts.postgres_url else "--no-postgres"
        if skip:
            print(f"PostgreSQL skipped: {skip}")
            raw["postgres_skipped"] = skip
        print(f"no-op throughput, {opts.jobs:,} jobs per run ...", flush=True)
        runs = measure_throughput(opts, backends, processes, with_postgres=not skip)
        raw["throughput"] = {label: [asdict(run) for run in rs] for label, rs in runs.items()}
        rows += throughput_rows(runs)
    if "steps" in opts.parts:
        print(f"{opts.steps}-step jobs on SQLite, then the DBOS workflow ...", flush=True)
        ours = measure_steps(opts, backends, processes)
        dbos = measure_dbos(opts, workdir)
        raw["steps"] = {"ours": asdict(ours), "dbos": dbos}
        rows += steps_rows(ours, dbos)
    if "events" in opts.parts:
        print("event latency ...", flush=True)
        event_runs = measure_events(
            opts.clients, opts.events, opts.event_interval, processes, workdir
        )
        raw["events"] = [asdict(run) for run in event_runs]
        rows += event_rows(event_runs)
    return rows, raw


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, report."""
    opts = parse_options(argv)
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    nofile = raise_nofile_limit()
    source_at_start = machine_facts()["uncommitted_src_diff_sha256"]
    quiet = busy_cores_now()
    print(f"CPUs busy before the run: {quiet:.2f} of {len(os.sched_getaffinity(0))} cores")
    processes = Processes()
    try:
        with workspace("missionctl-bench-engine-", opts.keep) as workdir:
            backends = Backends(workdir, opts.postgres_url)
            try:
                rows, raw = run_parts(opts, processes, workdir, backends)
            finally:
                processes.stop_all()
                backends.drop_pg()
    except (RuntimeError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: processes stopped, temp dir removed", file=sys.stderr)
        return 130
    facts = machine_facts() | {"open_files_limit": nofile, "busy_cores_before_run": quiet}
    facts["src_changed_during_run"] = facts["uncommitted_src_diff_sha256"] != source_at_start
    if facts["src_changed_during_run"]:
        print("WARNING: files under src/ changed during the run: the figures mix two versions.")
    out = write_json(opts, facts, raw)
    print()
    print(
        f"Measured {facts['date'][:10]} at commit `{facts['commit']}` on {facts['nproc']} cores "
        f"({facts['cpu'] or 'unknown CPU'}), Python {facts['python']}"
        f"{' (quick run)' if opts.quick else ''}:"
    )
    print()
    print(markdown_table(rows))
    print_notes(raw)
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
