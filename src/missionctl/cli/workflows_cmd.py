"""`missionctl workflows …`: apply definitions, list them, run them (live progress), see runs,
approve, resume, cancel. Runs are driven by workers (`missionctl up` or `missionctl worker`)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from missionctl.cli.context import database, unit_of_work
from missionctl.cli.embedded import work_in_process
from missionctl.cli.output import print_fields, print_json, print_table
from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID, Database
from missionctl.errors import InvalidInput
from missionctl.identity.service import get_tenant
from missionctl.workflows import runs, service, templates
from missionctl.workflows.schemas import (
    ApprovalDecision,
    RunCreate,
    RunFilter,
    RunStatus,
    WorkflowRun,
)

app = typer.Typer(help="Workflows: definitions, versions and runs.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Tenant slug (default: default).")
]
RunId = Annotated[str, typer.Argument(help="The run's id.")]
ACTOR = Actor.user()
FINAL = {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}


def _run_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a run id (a UUID)") from None


def _inputs(pairs: list[str]) -> dict[str, Any]:
    """`k=v` pairs; a value that reads as JSON (a number, true, a list…) is taken as JSON."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--input takes key=value, not {pair!r}")
        try:
            values[key.strip()] = json.loads(raw)
        except ValueError:
            values[key.strip()] = raw
    return values


@app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="A definition, .yaml/.yml or .json.")],
    note: Annotated[str, typer.Option(help="What changed.")] = "",
    tenant: TenantOption = None,
    as_json: JsonOption = False,
) -> None:
    """Save a definition as the workflow's next version (unchanged definitions keep theirs)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {file}: {exc}") from None
    with unit_of_work(tenant=tenant) as session:
        saved = service.save_definition(
            session, text, actor=ACTOR, is_json=file.suffix.lower() == ".json", note=note
        )
    if as_json:
        print_json(saved)
    elif saved.is_new_version:
        typer.echo(f"saved {saved.name} v{saved.version}")
    else:
        typer.echo(f"unchanged: {saved.name} v{saved.version}")


@app.command("list")
def list_workflows(tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """List workflows."""
    with unit_of_work(write=False, tenant=tenant) as session:
        workflows = service.list_workflows(session)
    if as_json:
        print_json(workflows)
        return
    print_table(
        ["NAME", "LATEST", "PUBLISHED", "TAGS", "DESCRIPTION"],
        [
            [
                w.name,
                w.latest_version,
                w.published_version or "-",
                ",".join(f"{t}=v{v}" for t, v in w.tags.items()),
                w.description[:60],
            ]
            for w in workflows
        ],
    )


@app.command("templates")
def list_templates(as_json: JsonOption = False) -> None:
    """List the built-in templates (make one with `instantiate`)."""
    found = templates.list_templates()
    if as_json:
        print_json(found)
        return
    print_table(
        ["NAME", "PARAMETERS", "TITLE"],
        [[t.name, ",".join(p.name for p in t.parameters), t.title] for t in found],
    )


@app.command("instantiate")
def instantiate(
    template: Annotated[str, typer.Argument(help="Template name.")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="k=v; repeat.")] = None,
    tenant: TenantOption = None,
) -> None:
    """Make a workflow from a built-in template."""
    values = _inputs(param or [])
    text = templates.instantiate(template, values)
    with unit_of_work(tenant=tenant) as session:
        saved = service.save_definition(session, text, actor=ACTOR, note=f"from {template}")
    typer.echo(f"saved {saved.name} v{saved.version}")


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="The workflow.")],
    input_pair: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="k=v (JSON values allowed); repeat.")
    ] = None,
    version: Annotated[int | None, typer.Option(help="Run this version.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Show live progress until it ends.")] = False,
    timeout: Annotated[float, typer.Option(help="With --wait: give up after this many s.")] = 0,
    tenant: TenantOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a run (a worker runs it); with --wait, follow it step by step until it ends
    (running a worker in this process when none is alive)."""
    data = RunCreate(inputs=_inputs(input_pair or []), version=version)
    with database() as (settings, db):
        tenant_id = DEFAULT_TENANT_ID
        if tenant is not None:
            with db.transaction(None, write=False) as session:
                tenant_id = get_tenant(session, tenant).tenant_id
        with db.transaction(tenant_id) as session:
            started = runs.start_run(session, name, data, actor=ACTOR, trigger_kind="cli")
        if not wait:
            if as_json:
                print_json(started)
            else:
                typer.echo(f"started run {started.run_id} of {name} v{started.version}")
            return
        typer.echo(f"run {started.run_id} of {name} v{started.version}")
        say = lambda message: typer.echo(message, err=True)  # noqa: E731
        with work_in_process(settings, db, say, "the workflow"):
            final = _follow(db, tenant_id, started.run_id, timeout)
    if as_json:
        print_json(final)
    if final.status is not RunStatus.SUCCEEDED:
        raise typer.Exit(1)


def _follow(db: Database, tenant_id: uuid.UUID, run_id: uuid.UUID, timeout: float) -> WorkflowRun:
    """Print each step as it changes until the run ends (or `timeout` s pass)."""
    seen: dict[str, str] = {}
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        with db.transaction(tenant_id, write=False) as session:
            current = runs.get_run(session, run_id)
        for step in current.steps:
            if seen.get(step.step_key) != step.status:
                seen[step.step_key] = step.status
                typer.echo(_step_line(step.step_key, step.status.value, step, current))
        if current.status in FINAL:
            cost = current.cost_nanos / 1e9
            typer.echo(f"{current.status.value}: {current.steps_done} steps, ${cost:.6f}")
            if current.status is RunStatus.SUCCEEDED:
                typer.echo(json.dumps(current.outputs, indent=2, default=str))
            elif current.error:
                typer.echo(f"failed at {current.failed_step}: {current.error}", err=True)
                typer.echo(f"fix it, then: missionctl workflows resume {run_id}", err=True)
            return current
        if deadline is not None and time.monotonic() > deadline:
            typer.echo(f"still {current.status.value} after {timeout:g} s; run {run_id} goes on")
            raise typer.Exit(1)
        time.sleep(0.3)


def _step_line(key: str, status: str, step: Any, run_view: WorkflowRun) -> str:
    line = f"  {key:<24} {status}"
    if status == "waiting" and step.node_type == "approval":
        line += (
            f" — {step.details.get('message', '')}\n"
            f"    approve: missionctl workflows approve {run_view.run_id} {key} [--reject]"
        )
    elif status == "failed" and step.error:
        line += f" — {step.error}"
    elif step.duration_ms is not None and status == "succeeded":
        line += f" ({step.duration_ms:.0f} ms)"
    return line


@app.command("runs")
def list_runs(
    workflow: Annotated[str | None, typer.Option(help="Only this workflow's runs.")] = None,
    status: Annotated[RunStatus | None, typer.Option(help="Only runs in this status.")] = None,
    limit: Annotated[int, typer.Option(help="How many.")] = 50,
    tenant: TenantOption = None,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first (`--status failed`: the dead letters)."""
    with unit_of_work(write=False, tenant=tenant) as session:
        page = runs.list_runs(session, RunFilter(workflow=workflow, status=status, limit=limit))
    if as_json:
        print_json(page.items)
        return
    print_table(
        ["RUN", "WORKFLOW", "VERSION", "STATUS", "STEPS", "CREATED", "FAILED AT"],
        [
            [
                r.run_id,
                r.workflow,
                r.version,
                r.status.value,
                r.steps_done,
                f"{r.created_at:%Y-%m-%d %H:%M:%S}",
                r.failed_step or "",
            ]
            for r in page.items
        ],
    )


@app.command("show")
def show(run_id: RunId, tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """Show a run and its steps."""
    with unit_of_work(write=False, tenant=tenant) as session:
        current = runs.get_run(session, _run_id(run_id))
    if as_json:
        print_json(current)
        return
    print_fields(
        [
            ("run", current.run_id),
            ("workflow", f"{current.workflow} v{current.version}"),
            ("status", current.status.value),
            ("inputs", json.dumps(current.inputs, default=str)),
            ("outputs", json.dumps(current.outputs, default=str) if current.outputs else ""),
            ("error", current.error or ""),
        ]
    )
    print_table(
        ["STEP", "TYPE", "STATUS", "ATTEMPTS", "MS"],
        [
            [s.step_key, s.node_type, s.status.value, s.attempts, f"{s.duration_ms or 0:.0f}"]
            for s in current.steps
        ],
    )


@app.command("approve")
def approve(
    run_id: RunId,
    node: Annotated[str, typer.Argument(help="The approval node.")],
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead.")] = False,
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    tenant: TenantOption = None,
) -> None:
    """Approve (or --reject) a run's waiting approval node."""
    decision = ApprovalDecision(node=node, approved=not reject, comment=comment)
    with unit_of_work(tenant=tenant) as session:
        runs.decide_approval(session, _run_id(run_id), decision, actor=ACTOR)
    typer.echo(f"{'rejected' if reject else 'approved'} {node} of run {run_id}")


@app.command("resume")
def resume(
    run_id: RunId,
    version: Annotated[int | None, typer.Option(help="Go on with this (fixed) version.")] = None,
    tenant: TenantOption = None,
) -> None:
    """Resume a paused run, or a failed one from its failed step."""
    with unit_of_work(tenant=tenant) as session:
        resumed = runs.resume_run(session, _run_id(run_id), actor=ACTOR, version=version)
    typer.echo(f"resumed run {run_id} (v{resumed.version})")


@app.command("cancel")
def cancel(run_id: RunId, tenant: TenantOption = None) -> None:
    """Cancel a run."""
    with unit_of_work(tenant=tenant) as session:
        runs.cancel_run(session, _run_id(run_id), actor=ACTOR)
    typer.echo(f"cancelled run {run_id}")
