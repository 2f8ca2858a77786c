"""The `board.create_task` job: put a task (or goal) on the board, e.g. on a cron schedule.

`{date}` and `{datetime}` in the title are replaced by the firing time of the schedule that
enqueued the job (UTC), so a weekly goal reads "Weekly report 2026-11-30".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from missionctl.board.schemas import TaskCreate
from missionctl.board.service import create_task
from missionctl.common import Actor
from missionctl.db import utcnow
from missionctl.engine.context import JobContext
from missionctl.engine.registry import JobKind, JobRegistry

CREATE_TASK_JOB = "board.create_task"


def run_create_task(job: JobContext, session: Session) -> dict[str, Any]:
    """Create the task the payload describes."""
    data = TaskCreate.model_validate(job.payload)
    when = job.job.scheduled_for or utcnow()
    title = data.title.replace("{date}", f"{when:%Y-%m-%d}").replace(
        "{datetime}", f"{when:%Y-%m-%d %H:%M} UTC"
    )
    task = create_task(
        session, data.model_copy(update={"title": title[:200]}), actor=Actor.system()
    )
    return {"task_id": str(task.task_id), "title": task.title}


def register(registry: JobRegistry) -> None:
    """Add the board's job kinds."""
    registry.add(
        JobKind(
            name=CREATE_TASK_JOB,
            handler=run_create_task,
            is_atomic=True,
            max_attempts=3,
            timeout_seconds=60,
            payload_schema=TaskCreate,
            is_schedulable=True,
            description="Put a task or goal on the board (recurring work, on a schedule).",
        )
    )
