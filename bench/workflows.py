"""Workflow benchmark (issue 8): per-step overhead and map throughput, side by side with Prefect 3.

Two flows, the same in both engines, of steps that do nothing:

- *linear*: 100 nodes in a chain, each a `tool: noop` step taking the previous one's output
  (`needs` the previous node). Figure: wall time of the run ÷ 100 = ms per step, and steps/s.
- *map*: one `map` node over 1,000 items (concurrency 16) of `tool: noop`. Figure: items/s.

**Mission Control** runs in this process on a fresh, migrated database (a SQLite file, then a
new PostgreSQL database): the definitions are saved through the service, a real worker
(`make_worker`, concurrency 4) drives the runs. Wall time of a run = its `finished_at` - the
moment before the transaction that queued it, so queueing, claiming the `workflow.run` job, every
step's row (inputs, output, attempts, timings) and the run's outputs are all inside. One warm-up
run of each flow, then `--rounds` timed runs; the median is reported.

**Prefect 3** runs the same two flows with `bench/workflows_prefect.py` in its own venv
(`.bench-venvs/prefect`, created with `pip install 'prefect==3.9.*'` when missing), against its
own local server on SQLite and on PostgreSQL, in the same invocation. Its flow-run heartbeat
rounds every flow call up to a whole second; the peer runs with the heartbeat off
(`--heartbeat off`), which makes Prefect faster, so the ratio below is the conservative one.
Prefect records task runs after the fact (events the server writes later); its wall time does
not wait for them, ours includes every step's commit.

Goal: Mission Control does ≥ 5x Prefect's steps/s (linear) and items/s (map), per database.

Run: `.venv/bin/python bench/workflows.py [--rounds 3] [--no-postgres] [--no-prefect]
[--steps 100] [--items 1000] [--concurrency 16] [--keep]`. About 6 minutes (most of it Prefect).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench_common import (
    BENCH_DIR,
    RESULTS_DIR,
    ROOT,
    Row,
    base_env,
    busy_cores_now,
    machine_facts,
    markdown_table,
    peer_python,
    workspace,
)
from missionctl.bootstrap import make_worker, prepare
from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID, Database
from missionctl.engine.registry import JobRegistry
from missionctl.settings import load_settings
from missionctl.workflows import jobs, runs, service
from missionctl.workflows.schemas import RunCreate

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "mc_bench_workflows"
PG_PREFECT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/mc_bench_prefect"
PREFECT_VENV = ROOT / ".bench-venvs" / "prefect"
PREFECT_SCRIPT = BENCH_DIR / "workflows_prefect.py"
PREFECT_VERSION = "3.9."  # prefect==3.9.*
GOAL_RATIO = 5.0
SYSTEM = Actor.system()


def linear_definition(steps: int) -> str:
    """A chain of `steps` no-op tool nodes, each passing on the previous one's output."""
    lines = ["name: linear", "nodes:", "  s0: {type: tool, tool: noop, args: {x: 0}}"]
    for i in range(1, steps):
        lines.append(
            f"  s{i}: {{type: tool, tool: noop, needs: [s{i - 1}], "
            f"args: {{x: '{{{{ nodes.s{i - 1}.output.x + 1 }}}}'}}}}"
        )
    lines += ["outputs:", f"  last: '{{{{ nodes.s{steps - 1}.output.x }}}}'"]
    return "\n".join(lines) + "\n"


def map_definition(items: int, concurrency: int) -> str:
    """One map of `items` no-op tool nodes."""
    return (
        "name: mapped\nnodes:\n"
        f"  each: {{type: map, items: 'range({items})', concurrency: {concurrency}, "
        "node: {type: tool, tool: noop, args: {x: '{{ item }}'}}}\n"
        "outputs:\n  count: '{{ len(nodes.each.output.items) }}'\n"
    )


def _fresh_pg() -> str:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_BENCH_DB}"


def _drop_pg() -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')


def _one_run(db: Database, name: str, timeout: float = 300.0) -> tuple[float, dict[str, Any]]:
    """Queue a run, wait for it; (seconds from before queueing to its finished_at, outputs)."""
    started = datetime.now(UTC)
    with db.transaction(DEFAULT_TENANT_ID) as session:
        run_id = runs.start_run(session, name, RunCreate(), actor=SYSTEM).run_id
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.transaction(DEFAULT_TENANT_ID, write=False) as session:
            row = runs.run_row(session, run_id)
            if row.status in ("succeeded", "failed", "cancelled"):
                if row.status != "succeeded" or row.finished_at is None:
                    raise RuntimeError(f"run {run_id} of {name} ended {row.status}: {row.error}")
                return (row.finished_at - started).total_seconds(), dict(row.outputs or {})
        time.sleep(0.002)
    raise RuntimeError(f"run {run_id} of {name} did not finish in {timeout} s")


def measure_ours(backend: str, workdir: Path, opts: argparse.Namespace) -> dict[str, Any]:
    """Both flows on a fresh database of `backend`."""
    data_dir = workdir / f"mc-{backend}"
    data_dir.mkdir()
    os.environ["MISSIONCTL_DATA_DIR"] = str(data_dir)
    os.environ["MISSIONCTL_SECRET_KEY"] = "bench-workflows-" + "k" * 40
    if backend == "postgres":
        os.environ["MISSIONCTL_DATABASE_URL"] = _fresh_pg()
    else:
        os.environ.pop("MISSIONCTL_DATABASE_URL", None)
    settings = load_settings()
    db = prepare(settings)
    registry = JobRegistry()
    jobs.register(registry)
    worker = make_worker(settings, db, registry, concurrency=4).start()
    try:
        with db.transaction(DEFAULT_TENANT_ID) as session:
            service.save_definition(session, linear_definition(opts.steps), actor=SYSTEM)
            service.save_definition(
                session, map_definition(opts.items, opts.concurrency), actor=SYSTEM
            )
        result: dict[str, Any] = {}
        for name, size, check in (
            ("linear", opts.steps, {"last": opts.steps - 1}),
            ("mapped", opts.items, {"count": opts.items}),
        ):
            _one_run(db, name)  # warm-up
            walls = []
            for _ in range(opts.rounds):
                wall, outputs = _one_run(db, name)
                if outputs != check:
                    raise RuntimeError(f"{name} gave {outputs}, expected {check}")
                walls.append(wall)
            median = statistics.median(walls)
            result[name] = {
                "size": size,
                "rounds_s": [round(w, 4) for w in walls],
                "median_s": round(median, 4),
                "ms_per_step": round(median / size * 1000, 4),
                "per_s": round(size / median, 1),
            }
        return result
    finally:
        worker.stop(grace_seconds=10)
        db.dispose()
        if backend == "postgres":
            _drop_pg()


# --------------------------------------------------------------------------- Prefect


def prefect_python() -> Path:
    """The Prefect venv's interpreter; the venv is created (and Prefect installed) when missing."""
    return peer_python(PREFECT_VENV, "prefect", PREFECT_VERSION)


def measure_prefect(backend: str, workdir: Path, opts: argparse.Namespace) -> dict[str, Any]:
    """The Prefect peer on `backend`; its JSON."""
    args = [
        str(prefect_python()),
        str(PREFECT_SCRIPT),
        "--dir",
        str(workdir / f"prefect-{backend}"),
        "--database",
        backend,
        "--rounds",
        str(opts.rounds),
        "--steps",
        str(opts.steps),
        "--items",
        str(opts.items),
        "--concurrency",
        str(opts.concurrency),
        "--heartbeat",
        "off",
    ]
    if backend == "postgres":
        args += ["--pg-url", PG_PREFECT_URL]
    proc = subprocess.run(
        args, capture_output=True, text=True, timeout=1800, check=False, env=base_env()
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        result: dict[str, Any] = json.loads(lines[-1])
        return result
    raise RuntimeError(f"Prefect failed ({proc.returncode}):\n{proc.stdout}{proc.stderr[-3000:]}")


# --------------------------------------------------------------------------- report


def rows_for(backend: str, ours: dict[str, Any], prefect: dict[str, Any] | None) -> list[Row]:
    """Table rows of one database."""
    rows = []
    label = "SQLite" if backend == "sqlite" else "PostgreSQL"
    for flow, peer_key, unit in (("linear", "linear", "steps/s"), ("mapped", "map", "items/s")):
        mine = ours[flow]
        value = f"{mine['per_s']:,.0f} {unit} ({mine['ms_per_step']:.3f} ms each)"
        if prefect is None:
            rows.append(Row(f"{label}, {flow}", value, f"≥ {GOAL_RATIO:g}x Prefect", "n/a"))
            continue
        peer = prefect[peer_key]
        peer_rate = peer["steps_per_s"] if peer_key == "linear" else peer["items_per_s"]
        ratio = mine["per_s"] / peer_rate
        rows.append(
            Row(
                f"{label}, {flow} ({mine['size']:,} no-op steps)",
                f"{value}; Prefect {peer_rate:,.0f} {unit}; **{ratio:.1f}x**",
                f"≥ {GOAL_RATIO:g}x Prefect",
                "yes" if ratio >= GOAL_RATIO else "no",
                f"medians of {len(mine['rounds_s'])} rounds",
            )
        )
    return rows


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-prefect", action="store_true")
    parser.add_argument("--keep", action="store_true", help="Keep the temp dir.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure both engines on both databases; print the table, write the JSON."""
    opts = parse_options(argv)
    busy = busy_cores_now()
    print(f"CPUs busy before the run: {busy:.2f} of {len(os.sched_getaffinity(0))} cores")
    backends = ["sqlite"] if opts.no_postgres else ["sqlite", "postgres"]
    results: dict[str, Any] = {}
    rows: list[Row] = []
    with workspace("missionctl-bench-workflows-", opts.keep) as workdir:
        for backend in backends:
            print(f"Mission Control on {backend} ...", flush=True)
            ours = measure_ours(backend, workdir, opts)
            prefect = None
            if not opts.no_prefect:
                print(f"Prefect on {backend} (a few minutes) ...", flush=True)
                prefect = measure_prefect(backend, workdir, opts)
            results[backend] = {"missionctl": ours, "prefect": prefect}
            rows += rows_for(backend, ours, prefect)
    facts = machine_facts() | {"busy_cores_before_run": busy}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"workflows-{stamp}.json"
    document = {"benchmark": "workflows", "machine": facts, "options": vars(opts), **results}
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(
        f"\nMeasured {facts['date'][:10]} at commit `{facts['commit']}` on {facts['nproc']} cores"
    )
    print(markdown_table(rows))
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
