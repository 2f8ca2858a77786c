"""HTTP routes for the engine: jobs and the dead-letter list, cron schedules, engine processes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from missionctl.common import Page
from missionctl.engine import processes, schedules, service
from missionctl.engine.schemas import (
    Job,
    JobDetail,
    JobFilter,
    JobKindInfo,
    JobSummary,
    Schedule,
    ScheduleCreate,
    ScheduleFilter,
    ScheduleUpdate,
    WorkerInfo,
)
from missionctl.permissions import Permission
from missionctl.web.auth import need
from missionctl.web.deps import Ctx

jobs = APIRouter(prefix="/jobs", tags=["jobs"])
schedules_router = APIRouter(prefix="/schedules", tags=["schedules"])
workers = APIRouter(prefix="/workers", tags=["jobs"])


@jobs.get(
    "",
    summary="List jobs (status=dead: the dead letters)",
    dependencies=[need(Permission.JOBS_READ)],
)
def list_jobs(ctx: Ctx, query: Annotated[JobFilter, Query()]) -> Page[Job]:
    with ctx.read() as session:
        return service.list_jobs(session, query)


@jobs.get("/summary", summary="Jobs by kind and state", dependencies=[need(Permission.JOBS_READ)])
def summarize_jobs(ctx: Ctx) -> JobSummary:
    with ctx.read() as session:
        return service.summarize_jobs(session)


@jobs.get(
    "/kinds", summary="Kinds of job this deployment runs", dependencies=[need(Permission.JOBS_READ)]
)
def list_kinds(ctx: Ctx) -> list[JobKindInfo]:
    return [kind.info() for kind in ctx.app.registry]


@jobs.get(
    "/{job_id}",
    summary="A job with its steps and last error",
    dependencies=[need(Permission.JOBS_READ)],
)
def get_job(ctx: Ctx, job_id: uuid.UUID) -> JobDetail:
    with ctx.read() as session:
        return service.get_job(session, job_id)


@jobs.post(
    "/{job_id}/retry",
    summary="Run a failed or dead job again",
    dependencies=[need(Permission.JOBS_MANAGE)],
)
def retry_job(ctx: Ctx, job_id: uuid.UUID) -> Job:
    with ctx.write() as session:
        return service.retry_job(session, job_id, actor=ctx.actor)


@jobs.post("/{job_id}/cancel", summary="Cancel a job", dependencies=[need(Permission.JOBS_MANAGE)])
def cancel_job(ctx: Ctx, job_id: uuid.UUID) -> Job:
    with ctx.write() as session:
        return service.cancel_job(session, job_id, actor=ctx.actor)


@jobs.post(
    "/{job_id}/discard",
    summary="Take a dead job off the dead letters",
    dependencies=[need(Permission.JOBS_MANAGE)],
)
def discard_job(ctx: Ctx, job_id: uuid.UUID) -> Job:
    with ctx.write() as session:
        return service.discard_job(session, job_id, actor=ctx.actor)


@workers.get(
    "", summary="Worker and scheduler processes", dependencies=[need(Permission.JOBS_READ)]
)
def list_workers(ctx: Ctx) -> list[WorkerInfo]:
    with ctx.app.db.transaction(None, write=False) as session:
        return processes.list_processes(session)


class ScheduleRun(BaseModel):
    """A job enqueued by running a schedule by hand."""

    job_id: uuid.UUID = Field(description="The job enqueued.")


@schedules_router.get("", summary="List cron schedules", dependencies=[need(Permission.JOBS_READ)])
def list_schedules(ctx: Ctx, query: Annotated[ScheduleFilter, Query()]) -> Page[Schedule]:
    with ctx.read() as session:
        return schedules.list_schedules(session, query)


@schedules_router.post(
    "",
    status_code=201,
    summary="Create a cron schedule",
    dependencies=[need(Permission.JOBS_MANAGE)],
)
def create_schedule(ctx: Ctx, data: ScheduleCreate) -> Schedule:
    with ctx.write() as session:
        return schedules.create_schedule(session, data, actor=ctx.actor, registry=ctx.app.registry)


@schedules_router.get(
    "/{schedule_id}", summary="Get a schedule", dependencies=[need(Permission.JOBS_READ)]
)
def get_schedule(ctx: Ctx, schedule_id: uuid.UUID) -> Schedule:
    with ctx.read() as session:
        return schedules.get_schedule(session, schedule_id)


@schedules_router.patch(
    "/{schedule_id}", summary="Change a schedule", dependencies=[need(Permission.JOBS_MANAGE)]
)
def update_schedule(ctx: Ctx, schedule_id: uuid.UUID, data: ScheduleUpdate) -> Schedule:
    with ctx.write() as session:
        return schedules.update_schedule(
            session, schedule_id, data, actor=ctx.actor, registry=ctx.app.registry
        )


@schedules_router.delete(
    "/{schedule_id}",
    status_code=204,
    summary="Delete a schedule",
    dependencies=[need(Permission.JOBS_MANAGE)],
)
def delete_schedule(ctx: Ctx, schedule_id: uuid.UUID) -> Response:
    with ctx.write() as session:
        schedules.delete_schedule(session, schedule_id, actor=ctx.actor)
    return Response(status_code=204)


@schedules_router.post(
    "/{schedule_id}/run",
    status_code=201,
    summary="Run a schedule's job now",
    dependencies=[need(Permission.JOBS_MANAGE)],
)
def run_schedule(ctx: Ctx, schedule_id: uuid.UUID) -> ScheduleRun:
    with ctx.write() as session:
        return ScheduleRun(job_id=schedules.run_schedule_now(session, schedule_id, actor=ctx.actor))
