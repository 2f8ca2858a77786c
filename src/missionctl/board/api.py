"""HTTP routes for the board's tasks."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from missionctl.board import service
from missionctl.board.schemas import (
    Task,
    TaskAssign,
    TaskCreate,
    TaskFilter,
    TaskStatusChange,
    TaskUpdate,
)
from missionctl.common import Page
from missionctl.permissions import Permission
from missionctl.web.auth import need
from missionctl.web.cache import cached_json
from missionctl.web.deps import Ctx

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get(
    "", summary="List tasks", response_model=Page[Task], dependencies=[need(Permission.BOARD_READ)]
)
async def list_tasks(ctx: Ctx, request: Request, query: Annotated[TaskFilter, Query()]) -> Response:
    return await cached_json(
        ctx, request, Permission.BOARD_READ, lambda session: service.list_tasks(session, query)
    )


@router.post(
    "",
    status_code=201,
    summary="Create a task or goal",
    dependencies=[need(Permission.TASKS_WRITE)],
)
def create_task(ctx: Ctx, data: TaskCreate) -> Task:
    with ctx.write() as session:
        return service.create_task(session, data, actor=ctx.actor, quotas=ctx.app.quotas)


@router.get("/{task_id}", summary="Get a task", dependencies=[need(Permission.BOARD_READ)])
def get_task(ctx: Ctx, task_id: uuid.UUID) -> Task:
    with ctx.read() as session:
        return service.get_task(session, task_id)


@router.put(
    "/{task_id}", summary="Update a task's fields", dependencies=[need(Permission.TASKS_WRITE)]
)
@router.patch(
    "/{task_id}",
    summary="Update a task's fields (same as PUT)",
    dependencies=[need(Permission.TASKS_WRITE)],
)
def update_task(ctx: Ctx, task_id: uuid.UUID, data: TaskUpdate) -> Task:
    with ctx.write() as session:
        return service.update_task(session, task_id, data, actor=ctx.actor)


@router.delete(
    "/{task_id}",
    status_code=204,
    summary="Delete a task",
    dependencies=[need(Permission.TASKS_WRITE)],
)
def delete_task(ctx: Ctx, task_id: uuid.UUID) -> Response:
    with ctx.write() as session:
        service.delete_task(session, task_id, actor=ctx.actor)
    return Response(status_code=204)


@router.post(
    "/{task_id}/assign",
    summary="Set a task's assignees",
    dependencies=[need(Permission.TASKS_WRITE)],
)
def assign_task(ctx: Ctx, task_id: uuid.UUID, data: TaskAssign) -> Task:
    with ctx.write() as session:
        return service.assign_task(session, task_id, data, actor=ctx.actor)


@router.post(
    "/{task_id}/status",
    summary="Move a task to another status",
    dependencies=[need(Permission.TASKS_WRITE)],
    responses={409: {"description": "Illegal transition; `allowed` lists the legal targets."}},
)
def change_status(ctx: Ctx, task_id: uuid.UUID, data: TaskStatusChange) -> Task:
    with ctx.write() as session:
        return service.change_status(session, task_id, data, actor=ctx.actor)
