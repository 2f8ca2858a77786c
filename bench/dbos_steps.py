"""The DBOS peer of bench/engine.py's step benchmark: a 100-step checkpointed workflow.

Runs with the interpreter of `.bench-venvs/dbos` (bench/engine.py creates it with
`pip install 'dbos==3.4.*'` and starts this script as a subprocess); it cannot run in the
project's venv, which has no DBOS.

What it does
    A DBOS workflow calls `--steps` (default 100) no-op `@DBOS.step()` functions, one after the
    other; DBOS checkpoints each step's output in its system database before the next one runs,
    as Mission Control's `job.step(...)` does. The system database is SQLite (a file in `--dir`),
    with the settings a fair comparison needs:

    - `PRAGMA journal_mode=WAL` and `PRAGMA synchronous=NORMAL` on every connection of the engine
      DBOS creates, from a SQLAlchemy `connect` listener registered on all pools before DBOS
      builds its engine (DBOS's own listener still runs: `BEGIN IMMEDIATE` transactions, a 30 s
      busy timeout, foreign keys on). Out of the box DBOS leaves SQLite in rollback-journal mode
      with `synchronous=FULL`, an fsync per step.
    - Workflows are called directly (synchronously, in this thread), not through a queue, so
      DBOS's queue polling interval (1 s by default) plays no part.

    After `--warmup` workflows it times `--workflows` more, one after the other, and prints one
    JSON line: per-step time measured inside the workflow around the loop of steps (the same
    measure as `bench.steps` in bench/engine_plugin.py), per-step time of the whole workflow call
    (start and end records included), each run, and the pragmas read back from DBOS's engine.

Run: `.bench-venvs/dbos/bin/python bench/dbos_steps.py --dir /tmp/somewhere [--workflows 15]`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import Pool


def _fast_sqlite(dbapi_connection: Any, _record: object) -> None:
    """WAL and synchronous=NORMAL on every new SQLite connection (other drivers untouched)."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


# On the Pool class: applies to the engine DBOS is about to create (and any other).
event.listen(Pool, "connect", _fast_sqlite)

from dbos import DBOS, DBOSConfig  # noqa: E402 - after the listener, before DBOS's engine exists


@DBOS.step()
def noop_step(value: int) -> int:
    """A step that does nothing but return its input (DBOS checkpoints it)."""
    return value


@DBOS.workflow()
def steps_workflow(count: int) -> float:
    """`count` steps one after the other; seconds spent in the loop (measured inside)."""
    started = time.perf_counter()
    for index in range(count):
        noop_step(index)
    return time.perf_counter() - started


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--dir", type=Path, required=True, help="where the SQLite file goes")
    parser.add_argument("--steps", type=int, default=100, help="steps per workflow")
    parser.add_argument("--workflows", type=int, default=15, help="timed workflows")
    parser.add_argument("--warmup", type=int, default=3, help="untimed workflows first")
    return parser.parse_args(argv)


def pragmas(engine: sa.Engine) -> dict[str, Any]:
    """The SQLite settings in force on a connection of DBOS's own engine."""
    with engine.connect() as conn:
        return {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        }


def dbos_engine() -> sa.Engine:
    """The system database engine DBOS created (a private attribute, read-only use)."""
    from dbos._dbos import _get_dbos_instance  # no public accessor

    engine: sa.Engine = _get_dbos_instance()._sys_db.engine
    return engine


def time_workflows(count: int, steps: int) -> list[dict[str, float]]:
    """Run `count` workflows one after the other; inside and outside timings of each."""
    runs = []
    for _ in range(count):
        started = time.perf_counter()
        inside = steps_workflow(steps)
        outside = time.perf_counter() - started
        runs.append(
            {
                "ms_per_step": inside * 1000 / steps,
                "ms_per_step_whole_workflow": outside * 1000 / steps,
                "workflow_ms": outside * 1000,
            }
        )
    return runs


def main(argv: list[str] | None = None) -> int:
    """Launch DBOS on SQLite, warm up, time, print one JSON line."""
    args = parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(args.dir / 'dbos_system.sqlite').resolve()}"
    config: DBOSConfig = {"name": "mc-bench-steps", "system_database_url": url}
    config["log_level"] = "WARNING"
    DBOS(config=config)
    logging.getLogger("dbos").setLevel(logging.WARNING)
    DBOS.launch()
    try:
        settings = pragmas(dbos_engine())
        if str(settings["journal_mode"]).lower() != "wal" or settings["synchronous"] != 1:
            print(f"error: DBOS's engine is not in WAL/NORMAL: {settings}", file=sys.stderr)
            return 1
        time_workflows(args.warmup, args.steps)
        runs = time_workflows(args.workflows, args.steps)
    finally:
        DBOS.destroy()
    result = {
        "dbos_version": importlib.metadata.version("dbos"),
        "sqlalchemy_version": sa.__version__,
        "python": sys.version.split()[0],
        "system_database": "sqlite (file)",
        "pragmas": settings,
        "steps": args.steps,
        "warmup_workflows": args.warmup,
        "median_ms_per_step": statistics.median(r["ms_per_step"] for r in runs),
        "median_ms_per_step_whole_workflow": statistics.median(
            r["ms_per_step_whole_workflow"] for r in runs
        ),
        "runs": runs,
    }
    print("DBOS_JSON " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
