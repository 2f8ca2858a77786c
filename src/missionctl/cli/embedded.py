"""Commands that wait on work (`goal --wait`, `workflows run --wait`) need a worker: when none
is alive, they run a worker and the scheduler in their own process until they end."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import structlog

from missionctl.bootstrap import EmbeddedEngine, build_registry, configure_logging
from missionctl.db import Database
from missionctl.engine.processes import list_processes
from missionctl.engine.schemas import WorkerRole
from missionctl.settings import Settings

Say = Callable[[str], None]


def has_live_worker(db: Database) -> bool:
    """Whether a worker process reported itself alive recently."""
    with db.transaction(None, write=False) as session:
        return any(p.is_alive and p.role is WorkerRole.WORKER for p in list_processes(session))


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    # SystemExit unwinds through the `finally` that stops the embedded engine.
    raise SystemExit(128 + signal.SIGTERM)


@contextmanager
def work_in_process(settings: Settings, db: Database, say: Say, what: str) -> Iterator[None]:
    """Nothing, when a worker runs somewhere; else a worker and scheduler in this process."""
    if has_live_worker(db):
        yield
        return
    say(f"no worker running: running {what} in this process")
    # The engine logs through structlog: keep it to warnings, and off stdout (ours).
    configure_logging("warning")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    engine = EmbeddedEngine(settings, db, build_registry(settings))
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    engine.start()
    try:
        yield
    finally:
        engine.stop()
        signal.signal(signal.SIGTERM, previous)
