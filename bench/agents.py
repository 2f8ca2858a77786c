"""Agents benchmark (issue 6): what idle agents cost; how close a team gets to its model latency.

What it measures (the issue's goals)
    1. Idle agents (bench/agents_idle.py): N agents (default 1,000) with nothing to do, every one
       due; the scheduler's `enqueue_due_heartbeats` enqueues their `agent.heartbeat` jobs and a
       real worker (`make_worker`, concurrency 4 and 16) runs them; then one `agent.turn` job per
       agent (`request_turn`), each of which must end idle with no usage row (no model call).
       Per job: wall time / N, the process's CPU / N, and the handler's own wall and thread CPU.
       Goal: an idle turn < 2 ms.
    2. Goals (bench/agents_goals.py): 100 goals of exactly 4 chained subtasks, a team of 20
       agents (`--team`, default `dedicated`: 1 orchestrator, 4 reviewers, 4 researchers,
       4 analysts, 7 writers), worker concurrency 24, agent capacity 1,000, every request to a
       fake OpenAI-compatible server on 127.0.0.1 (bench/agents_fake.py, its own process) that
       answers with the offline model's reply exactly 200 ms after the request arrived. The
       agents use `model: "default"`, the tenant's policy routing to that deployment, so routing,
       a tenant budget's holds and metering are all inside the measurement. Wall time from the
       goals' commit to the last goal done, against the latency-bound critical path computed
       from the usage rows: max(longest chain of dependent requests of one goal, most requests
       of one agent) x 200 ms. Goal: wall <= 1.2 x that bound.

How
    Each part runs on SQLite (a new file in a temp dir) and on PostgreSQL when one answers
    (MISSIONCTL_BENCH_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/postgres; a scratch
    database `mc_bench_agents`, re-created for every round and dropped at the end), migrated
    with `bootstrap.prepare`. Worker and scheduler run in this process, on the settings a
    deployment would use (no MISSIONCTL_* variable of the caller's is read). Each goal round
    starts from a fresh database; the idle part reuses one database of N agents per backend.
    Before timing, the process imports what a long-running worker has imported by its first
    plan or review (pydantic-ai's OpenAI model and the openai SDK: see the report on
    `openai_wire`). Figures: the median over rounds.

Everything runs on 127.0.0.1; the fake server is stopped, temp dirs removed and the PostgreSQL
scratch database dropped at the end.

Run: `.venv/bin/python bench/agents.py [--quick] [--parts idle,goals] [--agents N]
[--concurrency 4,16] [--rounds R] [--goals G] [--goal-rounds R] [--team dedicated|peer]
[--no-postgres] [--no-sqlite] [--keep]` (about 9 minutes here; `--quick` about 1.5). Results:
tables on stdout, JSON in bench/results/agents-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from agents_goals import TEAMS, GoalRun, run_goals, set_up, team_note
from agents_idle import IdleBatch, create_idle_agents, run_batch
from agents_report import print_report
from bench_common import (
    BENCH_DIR,
    RESULTS_DIR,
    ROOT,
    base_env,
    busy_cores_now,
    machine_facts,
    raise_on_sigterm,
    workspace,
)
from board_list import group_cpu_seconds, machine_busy_seconds
from missionctl.agents.service import HEARTBEAT_JOB
from missionctl.bootstrap import configure_logging, prepare
from missionctl.db import Database
from missionctl.runtime.service import TURN_JOB
from missionctl.settings import Settings, load_settings
from models_report import source_fingerprint

FAKE_SCRIPT = BENCH_DIR / "agents_fake.py"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "mc_bench_agents"
SECRET_KEY = "bench-agents-" + "k" * 40
MARK = "@@ "
AGENT_CAPACITY = 1000


@dataclass(frozen=True)
class Options:
    """What to run."""

    quick: bool
    parts: tuple[str, ...]
    agents: int
    concurrency: tuple[int, ...]
    rounds: int
    goals: int
    goal_rounds: int
    goal_concurrency: int
    processes: int
    latency: float
    team: str
    postgres_url: str | None
    sqlite: bool
    keep: bool


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Command-line options; `--quick` shrinks the defaults for a smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--parts", default="idle,goals", help="idle, goals or both")
    parser.add_argument("--agents", type=int, help="idle agents (1000)")
    parser.add_argument("--concurrency", help="worker concurrencies for the idle part (4,16)")
    parser.add_argument("--rounds", type=int, help="idle rounds per concurrency (1)")
    parser.add_argument("--goals", type=int, help="goals of 4 subtasks (100)")
    parser.add_argument("--goal-rounds", type=int, help="goal runs per database (1)")
    parser.add_argument("--goal-concurrency", type=int, default=24, help="worker concurrency")
    parser.add_argument(
        "--processes", type=int, default=1, help="worker processes for the goals (scale-out)"
    )
    parser.add_argument("--latency", type=float, default=0.2, help="model latency, seconds")
    parser.add_argument("--team", choices=sorted(TEAMS), default="dedicated", help="team shape")
    default_pg = os.environ.get("MISSIONCTL_BENCH_POSTGRES_URL") or PG_ADMIN_URL
    parser.add_argument("--postgres-url", default=default_pg, help="an admin URL to create from")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    if not parts or set(parts) - {"idle", "goals"}:
        parser.error("--parts takes idle, goals or both")
    quick = args.quick
    concurrency = tuple(int(c) for c in (args.concurrency or ("4" if quick else "4,16")).split(","))
    opts = Options(
        quick=quick,
        parts=parts,
        agents=args.agents or (200 if quick else 1000),
        concurrency=concurrency,
        rounds=args.rounds or 1,
        goals=args.goals or (10 if quick else 100),
        goal_rounds=args.goal_rounds or 1,
        goal_concurrency=args.goal_concurrency,
        processes=args.processes,
        latency=args.latency,
        team=args.team,
        postgres_url=None if args.no_postgres else args.postgres_url,
        sqlite=not args.no_sqlite,
        keep=args.keep,
    )
    counts = (opts.agents, opts.rounds, opts.goals, opts.goal_rounds, opts.processes)
    if min(*counts, *opts.concurrency) < 1:
        parser.error("counts must be >= 1")
    return opts


# --------------------------------------------------------------------------- databases


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_problem(admin_url: str) -> str | None:
    """None when PostgreSQL accepts a connection at `admin_url`, else why not."""
    try:
        with psycopg.connect(_libpq(admin_url), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).splitlines()[0]
    return None


class Databases:
    """Fresh, migrated databases: new SQLite files, or the PostgreSQL scratch database anew."""

    def __init__(self, workdir: Path, postgres_admin_url: str | None) -> None:
        self.workdir = workdir
        self.admin_url = postgres_admin_url
        self._count = 0
        self._made_pg = False

    def fresh(self, backend: str) -> tuple[Settings, Database]:
        """Settings and an open, migrated, empty database of `backend`."""
        self._count += 1
        data_dir = self.workdir / f"data-{self._count}"
        if backend == "sqlite":
            url = f"sqlite:///{data_dir / 'missionctl.db'}"
        else:
            url = self._recreate_pg()
        settings = load_settings(
            data_dir=data_dir,
            database_url=url,
            secret_key=SECRET_KEY,
            agent_capacity=AGENT_CAPACITY,
            log_level="warning",
        )
        return settings, prepare(settings)

    def _recreate_pg(self) -> str:
        assert self.admin_url is not None
        with psycopg.connect(_libpq(self.admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
        self._made_pg = True
        url = make_url(self.admin_url).set(drivername="postgresql+psycopg", database=PG_BENCH_DB)
        return url.render_as_string(hide_password=False)

    def drop_pg(self) -> None:
        """Drop the scratch database if this run made it."""
        if self._made_pg and self.admin_url is not None:
            with psycopg.connect(_libpq(self.admin_url), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
            self._made_pg = False


# --------------------------------------------------------------------------- the fake model


class FakeModel:
    """bench/agents_fake.py in a process of its own."""

    def __init__(self, latency: float, log: Path) -> None:
        with log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(FAKE_SCRIPT), str(latency)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=base_env(),
                cwd=ROOT,
                start_new_session=True,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith(MARK):
            self.stop()
            raise RuntimeError(f"the fake model did not start:\n{log.read_text()[-2000:]}")
        self.base_url: str = json.loads(line[len(MARK) :])["base_url"]

    def stats(self, reset: bool = False) -> dict[str, Any]:
        """How long the server held each request so far (`reset`: start over)."""
        import urllib.request

        url = self.base_url.removesuffix("/v1") + "/stats" + ("?reset=1" if reset else "")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
        return answer

    def cpu_seconds(self) -> float:
        """CPU the server's process has used."""
        return group_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        """Close its stdin (it exits); kill it if it lingers."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def warm_up_imports() -> None:
    """What a long-running worker has imported by its first plan or review."""
    import pydantic_ai.models.openai
    import pydantic_ai.providers.openai

    from missionctl.runtime.tools import platform_tools

    del pydantic_ai

    platform_tools()


# --------------------------------------------------------------------------- the parts


def run_idle(opts: Options, databases: Databases, backend: str) -> dict[str, Any]:
    """Part 1 on one backend: every concurrency and kind, `opts.rounds` times."""
    settings, db = databases.fresh(backend)
    try:
        created = create_idle_agents(db, opts.agents)
        print(f"  {backend}: {opts.agents:,} idle agents created in {created:.1f} s", flush=True)
        batches: list[IdleBatch] = []
        for concurrency in opts.concurrency:
            for round_index in range(opts.rounds):
                for kind in (HEARTBEAT_JOB, TURN_JOB):
                    batch = run_batch(
                        db,
                        settings,
                        kind=kind,
                        count=opts.agents,
                        concurrency=concurrency,
                        round_index=round_index,
                    )
                    batches.append(batch)
                    print(
                        f"  {backend:<8} {kind:<15} c={concurrency:<3} round {round_index + 1}: "
                        f"{batch.wall_ms_per_job:6.2f} ms/job wall, "
                        f"{batch.process_cpu_ms_per_job:6.2f} ms CPU, handler "
                        f"{batch.handler_cpu_ms_mean:5.2f} ms CPU",
                        flush=True,
                    )
    finally:
        db.dispose()
    return {"agents_created_seconds": round(created, 2), "batches": [asdict(b) for b in batches]}


def run_goal_rounds(
    opts: Options, databases: Databases, backend: str, fake: FakeModel
) -> list[GoalRun]:
    """Part 2 on one backend: `opts.goal_rounds` runs, each on a fresh database."""
    runs = []
    for round_index in range(opts.goal_rounds):
        settings, db = databases.fresh(backend)
        try:
            set_up(db, settings, fake.base_url, TEAMS[opts.team])
            fake.stats(reset=True)
            busy, fake_cpu = machine_busy_seconds(), fake.cpu_seconds()
            began = time.monotonic()
            run = run_goals(
                db,
                settings,
                database=backend,
                round_index=round_index,
                goals=opts.goals,
                concurrency=opts.goal_concurrency,
                latency=opts.latency,
                timeout=max(600.0, opts.goals * 20.0),
                processes=opts.processes,
            )
        finally:
            db.dispose()
        wall = time.monotonic() - began
        busy, fake_cpu = machine_busy_seconds() - busy, fake.cpu_seconds() - fake_cpu
        run.other_load_cores = round(max(0.0, busy - run.process_cpu_seconds - fake_cpu) / wall, 2)
        served = fake.stats()
        _check_served(run, served, opts.latency)
        runs.append(run)
        print(
            f"  {backend:<8} round {round_index + 1}, {opts.processes} process(es): "
            f"{opts.goals} goals in "
            f"{run.wall_seconds:.1f} s; bound {run.bound_seconds:.1f} s (chain "
            f"{run.chain_seconds:.1f}, busiest agent {run.agent_seconds:.1f}); ratio "
            f"{run.ratio:.2f}; {run.turns} turns, {run.requests} requests",
            flush=True,
        )
    return runs


def _check_served(run: GoalRun, served: dict[str, Any], latency: float) -> None:
    """The fake held every request `latency` (well, within 20 ms) and saw every metered one."""
    times = sorted(served["service_seconds"])
    run.budget["fake_requests"] = served["requests"]
    run.budget["fake_service_ms"] = {
        "p50": round(times[len(times) // 2] * 1000, 1) if times else None,
        "max": round(times[-1] * 1000, 1) if times else None,
    }
    run.budget["fake_max_in_flight"] = served["max_in_flight"]
    if served["requests"] != run.requests:
        run.problems.append(f"the fake answered {served['requests']}, {run.requests} metered")
    if times and times[len(times) // 2] > latency + 0.02:
        run.problems.append(f"the fake's median service time {times[len(times) // 2]:.3f} s")


# --------------------------------------------------------------------------- the run


def run(opts: Options, workdir: Path) -> dict[str, Any]:
    """Both parts on every backend; the raw results."""
    backends = ["sqlite"] if opts.sqlite else []
    raw: dict[str, Any] = {"options": asdict(opts), "team": team_note(TEAMS[opts.team])}
    skip = postgres_problem(opts.postgres_url) if opts.postgres_url else "--no-postgres"
    if skip:
        print(f"PostgreSQL skipped: {skip}")
        raw["postgres_skipped"] = skip
    else:
        backends.append("postgres")
    databases = Databases(workdir, None if skip else opts.postgres_url)
    try:
        if "idle" in opts.parts:
            print(f"idle agents: {opts.agents:,}, concurrency {opts.concurrency}", flush=True)
            raw["idle"] = {b: run_idle(opts, databases, b) for b in backends}
        if "goals" in opts.parts:
            warm_up_imports()
            fake = FakeModel(opts.latency, workdir / "fake.log")
            try:
                print(
                    f"goals: {opts.goals} x 4 subtasks, team of 20 ({raw['team']}), "
                    f"{opts.latency * 1000:.0f} ms per request",
                    flush=True,
                )
                raw["goals"] = {
                    b: [r.as_dict() for r in run_goal_rounds(opts, databases, b, fake)]
                    for b in backends
                }
            finally:
                fake.stop()
    finally:
        databases.drop_pg()
    return raw


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, check, report."""
    opts = parse_options(argv)
    for key in [k for k in os.environ if k.startswith("MISSIONCTL_")]:
        del os.environ[key]  # the settings here are the bench's, not the caller's
    configure_logging("warning")
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    source_at_start = source_fingerprint()
    quiet = busy_cores_now()
    print(f"CPUs busy before the run: {quiet:.2f} of {len(os.sched_getaffinity(0))} cores")
    started = time.monotonic()
    try:
        with workspace("missionctl-bench-agents-", opts.keep) as workdir:
            raw = run(opts, workdir)
    except (RuntimeError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the fake server stopped, temp dir removed", file=sys.stderr)
        return 130
    facts = machine_facts() | {"busy_cores_before_run": quiet}
    facts["run_seconds"] = round(time.monotonic() - started, 1)
    facts["src_sha256"] = source_fingerprint()
    facts["src_changed_during_run"] = facts["src_sha256"] != source_at_start
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"agents-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"facts": facts, **raw}, indent=2, default=str))
    problems = print_report(raw, facts)
    if facts["src_changed_during_run"]:
        print("WARNING: files under src/ changed during the run: the figures mix two versions.")
    print(f"\nwrote {out.relative_to(ROOT)} ({facts['run_seconds']:.0f} s)")
    if problems:
        print("CHECKS FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
