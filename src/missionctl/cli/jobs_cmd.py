"""`missionctl jobs …`: the queue, the dead-letter list, and replaying jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from missionctl.cli.context import unit_of_work
from missionctl.cli.output import print_fields, print_json, print_table
from missionctl.cli.validation import build, parse_id
from missionctl.common import Actor
from missionctl.engine import service
from missionctl.engine.schemas import Job, JobFilter, JobStatus

app = typer.Typer(
    help="Background jobs: list, inspect, retry, cancel, discard.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Tenant slug (default: the default tenant).")
]
JobId = Annotated[str, typer.Argument(help="The job's id.")]


@app.command("list")
def list_jobs(
    status: Annotated[
        JobStatus | None, typer.Option(help="Only this state (dead: the dead-letter list).")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many.")] = 50,
    tenant: TenantOption = None,
    as_json: JsonOption = False,
) -> None:
    """List jobs, newest first."""
    job_filter = build(JobFilter, status=status, kind=kind, limit=limit)
    with unit_of_work(write=False, tenant=tenant) as session:
        jobs = service.list_jobs(session, job_filter).items
    if as_json:
        print_json(jobs)
        return
    print_table(
        ["ID", "KIND", "STATUS", "ATTEMPTS", "RUN AT", "LAST ERROR"],
        [
            [
                j.job_id,
                j.kind,
                j.status.value,
                f"{j.attempts}/{j.max_attempts or 'kind'}",
                f"{j.run_at:%Y-%m-%d %H:%M:%S}",
                (j.last_error or "")[:60],
            ]
            for j in jobs
        ],
    )


@app.command("show")
def show_job(job_id: JobId, tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """A job with its steps, last error and traceback."""
    with unit_of_work(write=False, tenant=tenant) as session:
        job = service.get_job(session, parse_id(job_id, "job"))
    if as_json:
        print_json(job)
        return
    print_fields(
        [
            ("id", job.job_id),
            ("kind", job.kind),
            ("status", job.status.value),
            ("attempts", f"{job.attempts}/{job.max_attempts or 'the kind default'}"),
            ("priority", job.priority),
            ("run at", job.run_at),
            ("created", job.created_at),
            ("finished", job.finished_at),
            ("worker", job.lease_owner),
            ("payload", job.payload),
            ("result", job.result),
            ("last error", job.last_error),
            ("steps", ", ".join(step.step_key for step in job.steps) or "none"),
        ]
    )
    if job.last_traceback:
        typer.echo("\n" + job.last_traceback.rstrip())


Action = Callable[..., Job]


def _act(action: Action, job_id: str, tenant: str | None, as_json: bool) -> None:
    """Apply a person's action to a job and print what became of it."""
    with unit_of_work(tenant=tenant) as session:
        job = action(session, parse_id(job_id, "job"), actor=Actor.user())
    if as_json:
        print_json(job)
    else:
        typer.echo(f"job {job.job_id} ({job.kind}) is {job.status.value}")


@app.command("retry")
def retry_job(job_id: JobId, tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """Run a failed, dead, cancelled or discarded job again (finished steps are kept)."""
    _act(service.retry_job, job_id, tenant, as_json)


@app.command("cancel")
def cancel_job(job_id: JobId, tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """Cancel a waiting job, or ask a running one to stop."""
    _act(service.cancel_job, job_id, tenant, as_json)


@app.command("discard")
def discard_job(job_id: JobId, tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """Take a dead job off the dead-letter list without running it."""
    _act(service.discard_job, job_id, tenant, as_json)


@app.command("summary")
def summary(tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """Jobs by kind and state, and how long the oldest ready job has waited."""
    with unit_of_work(write=False, tenant=tenant) as session:
        result = service.summarize_jobs(session)
    if as_json:
        print_json(result)
        return
    print_table(
        ["KIND", "STATUS", "COUNT"], [[c.kind, c.status.value, c.count] for c in result.counts]
    )
    if result.oldest_ready_at:
        typer.echo(f"\noldest ready job waiting since {result.oldest_ready_at:%Y-%m-%d %H:%M:%S}")
