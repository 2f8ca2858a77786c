"""`missionctl worker` and `missionctl scheduler`: the engine's processes (scale-out)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from missionctl.bootstrap import (
    build_registry,
    configure_logging,
    make_scheduler,
    make_worker,
    tune_gc,
)
from missionctl.cli.context import database
from missionctl.errors import InvalidInput
from missionctl.settings import load_settings


def _on_signal() -> threading.Event:
    """An event set by SIGTERM or SIGINT (installed before anything starts, so that a signal
    arriving early still stops the process cleanly)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    return stop


def _wait(stop: threading.Event) -> None:
    while not stop.wait(0.5):
        pass


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=256, help="Jobs at once (MISSIONCTL_WORKER_CONCURRENCY)."),
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only run this kind of job (repeatable).")
    ] = None,
) -> None:
    """Run jobs until SIGTERM; then finish or hand back the running ones."""
    stop = _on_signal()
    configure_logging(load_settings().log_level)
    with database() as (settings, db):
        registry = build_registry(settings)
        unknown = [name for name in kind or [] if name not in registry]
        if unknown:
            raise InvalidInput(
                f"unknown job kind(s): {', '.join(unknown)}; known: {', '.join(registry.names())}"
            )
        running = make_worker(
            settings, db, registry, concurrency=concurrency, kinds=tuple(kind) if kind else None
        )
        tune_gc()
        running.start()
        typer.echo(
            f"worker {running.worker_id}: {running.config.concurrency} at once, "
            f"kinds: {', '.join(k.name for k in running.kinds)}"
        )
        _wait(stop)
        released = running.stop()
        typer.echo(f"worker stopped; {released} job(s) handed back")


def scheduler() -> None:
    """Lead (or stand by as) the scheduler until SIGTERM: cron, heartbeats, reaper, retention."""
    stop = _on_signal()
    configure_logging(load_settings().log_level)
    with database() as (settings, db):
        running = make_scheduler(settings, db).start()
        typer.echo(f"scheduler {running.worker_id}: leads when no other scheduler does")
        _wait(stop)
        running.stop()
        typer.echo("scheduler stopped")
