"""Engine processes (workers and schedulers) as they report themselves, for operators."""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from missionctl.db import utcnow
from missionctl.engine.models import WorkerRow
from missionctl.engine.schemas import WorkerInfo, WorkerRole

# A process that has not reported for this long is shown as not alive.
ALIVE_WINDOW = timedelta(seconds=60)
# Rows of processes gone this long are deleted by retention.
FORGET_AFTER = timedelta(days=1)


def new_worker_id() -> str:
    """host:pid:random — unique per process start, readable in logs and leases."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(3)}"


def register_process(
    session: Session, worker_id: str, role: WorkerRole, *, concurrency: int = 0, kinds: list[str]
) -> None:
    """Record a process that starts."""
    session.add(
        WorkerRow(
            worker_id=worker_id,
            role=role.value,
            hostname=socket.gethostname()[:255],
            pid=os.getpid(),
            concurrency=concurrency,
            kinds=kinds,
        )
    )
    session.flush()


def report_alive(session: Session, worker_id: str, *, is_leader: bool | None = None) -> None:
    """Note that the process is alive (and whether it leads, for schedulers)."""
    values: dict[str, object] = {"last_seen_at": utcnow()}
    if is_leader is not None:
        values["is_leader"] = is_leader
    session.execute(update(WorkerRow).where(WorkerRow.worker_id == worker_id).values(**values))


def mark_stopped(session: Session, worker_id: str) -> None:
    """Record a clean stop."""
    now = utcnow()
    session.execute(
        update(WorkerRow)
        .where(WorkerRow.worker_id == worker_id)
        .values(stopped_at=now, last_seen_at=now, is_leader=False)
    )


def list_processes(session: Session) -> list[WorkerInfo]:
    """Every process that reported within the retention window, newest first."""
    now = utcnow()
    rows = session.scalars(select(WorkerRow).order_by(WorkerRow.started_at.desc()))
    return [
        WorkerInfo.model_validate(
            {
                **{column.key: getattr(row, column.key) for column in WorkerRow.__table__.columns},
                "is_alive": row.stopped_at is None and now - row.last_seen_at < ALIVE_WINDOW,
            }
        )
        for row in rows
    ]


def forget_gone(session: Session) -> int:
    """Delete rows of processes stopped or silent for a day (retention)."""
    cutoff = utcnow() - FORGET_AFTER
    result = session.execute(
        delete(WorkerRow).where(or_(WorkerRow.stopped_at < cutoff, WorkerRow.last_seen_at < cutoff))
    )
    return result.rowcount  # type: ignore[attr-defined,no-any-return]
