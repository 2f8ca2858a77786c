"""HTTP routes for workflows: definitions and versions, runs, approvals, triggers, templates,
and the signed webhook that starts runs."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from missionctl.common import Page
from missionctl.errors import InvalidDefinition, InvalidInput, PayloadTooLarge
from missionctl.permissions import Permission
from missionctl.sealing import Sealer
from missionctl.web.auth import need
from missionctl.web.deps import Ctx, State
from missionctl.workflows import runs, service, templates, triggers
from missionctl.workflows.schemas import (
    ApprovalDecision,
    DefinitionFault,
    RunCreate,
    RunFilter,
    RunResume,
    TemplateInstantiate,
    Trigger,
    TriggerCreate,
    Validation,
    VersionAction,
    VersionDiff,
    WebhookAccepted,
    Workflow,
    WorkflowGraph,
    WorkflowRun,
    WorkflowSaved,
    WorkflowTemplate,
    WorkflowVersion,
)

router = APIRouter(prefix="/workflows", tags=["workflows"])
run_router = APIRouter(prefix="/workflow-runs", tags=["workflows"])
other_router = APIRouter(tags=["workflows"])
hooks_router = APIRouter(prefix="/hooks/workflows", tags=["workflows"])
READ = [need(Permission.WORKFLOWS_READ)]
WRITE = [need(Permission.WORKFLOWS_WRITE)]
RUN = [need(Permission.WORKFLOWS_RUN)]
MAX_DEFINITION_BYTES = 1_000_000
DEFINITION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A workflow definition (see docs/workflows.md), as YAML or JSON.",
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


async def _definition_text(request: Request) -> tuple[str, bool]:
    body = await request.body()
    if len(body) > MAX_DEFINITION_BYTES:
        raise PayloadTooLarge(f"a definition is at most {MAX_DEFINITION_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the definition is not UTF-8 text", field="body") from None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return text, content_type.endswith("json")


@router.post(
    "",
    status_code=201,
    summary="Save a definition (YAML or JSON) as the workflow's next version",
    dependencies=WRITE,
    openapi_extra=DEFINITION_BODY,
    responses={422: {"description": "Each fault of the definition, with its location."}},
)
async def save_workflow(
    ctx: Ctx,
    request: Request,
    response: Response,
    note: Annotated[str, Query(max_length=500, description="What changed.")] = "",
) -> WorkflowSaved:
    text, is_json = await _definition_text(request)

    def save() -> WorkflowSaved:
        with ctx.write() as session:
            return service.save_definition(
                session, text, actor=ctx.actor, is_json=is_json, note=note
            )

    saved = await run_in_threadpool(save)
    if not saved.is_new_version:
        response.status_code = 200
    return saved


@router.post(
    "/validate",
    summary="Check a definition without saving it (the editor's live validation)",
    dependencies=READ,
    openapi_extra=DEFINITION_BODY,
)
async def validate_workflow(ctx: Ctx, request: Request) -> Validation:
    text, is_json = await _definition_text(request)

    def check() -> Validation:
        try:
            definition = service.parse(text, is_json=is_json)
            with ctx.read() as session:
                service.check_references(session, definition, text)
        except InvalidDefinition as exc:
            faults = [DefinitionFault.model_validate(f) for f in exc.extra.get("errors", [])]
            return Validation(is_valid=False, errors=faults)
        graph = WorkflowGraph.model_validate(service.drawing(definition))
        return Validation(is_valid=True, name=definition.name, errors=[], graph=graph)

    return await run_in_threadpool(check)


@router.get("", summary="List workflows", dependencies=READ)
def list_workflows(ctx: Ctx) -> list[Workflow]:
    with ctx.read() as session:
        return service.list_workflows(session)


@router.get("/{name}", summary="Get a workflow", dependencies=READ)
def get_workflow(ctx: Ctx, name: str) -> Workflow:
    with ctx.read() as session:
        return service.get_workflow(session, name)


@router.delete("/{name}", status_code=204, summary="Delete a workflow", dependencies=WRITE)
def delete_workflow(ctx: Ctx, name: str) -> Response:
    with ctx.write() as session:
        service.delete_workflow(session, name, actor=ctx.actor)
    return Response(status_code=204)


@router.get("/{name}/versions", summary="A workflow's versions, newest first", dependencies=READ)
def list_versions(ctx: Ctx, name: str) -> list[WorkflowVersion]:
    with ctx.read() as session:
        return service.list_versions(session, name)


@router.get("/{name}/versions/{version}", summary="One version", dependencies=READ)
def get_version(ctx: Ctx, name: str, version: int) -> WorkflowVersion:
    with ctx.read() as session:
        return service.get_version(session, name, version)


@router.get("/{name}/diff", summary="How two versions differ", dependencies=READ)
def diff_versions(
    ctx: Ctx,
    name: str,
    from_version: Annotated[int, Query(alias="from", ge=1, description="The older version.")],
    to_version: Annotated[int, Query(alias="to", ge=1, description="The newer version.")],
) -> VersionDiff:
    with ctx.read() as session:
        return service.diff_versions(session, name, from_version, to_version)


@router.post("/{name}/publish", summary="Publish a version", dependencies=WRITE)
def publish_version(ctx: Ctx, name: str, data: VersionAction) -> Workflow:
    with ctx.write() as session:
        return service.publish_version(session, name, data.version, actor=ctx.actor)


@router.post("/{name}/tags", summary="Tag a version", dependencies=WRITE)
def tag_version(ctx: Ctx, name: str, data: VersionAction) -> Workflow:
    if not data.tag:
        raise InvalidInput("a tag needs `tag`", field="tag")
    with ctx.write() as session:
        return service.tag_version(session, name, data.tag, data.version, actor=ctx.actor)


@router.post(
    "/{name}/rollback",
    summary="Save an old version again as the newest, and publish it",
    dependencies=WRITE,
)
def rollback(ctx: Ctx, name: str, data: VersionAction) -> WorkflowSaved:
    with ctx.write() as session:
        return service.rollback(session, name, data.version, actor=ctx.actor)


@router.post("/{name}/runs", status_code=201, summary="Start a run", dependencies=RUN)
def start_run(ctx: Ctx, name: str, data: RunCreate) -> WorkflowRun:
    with ctx.write() as session:
        return runs.start_run(session, name, data, actor=ctx.actor, trigger_kind="api")


@router.get("/{name}/triggers", summary="A workflow's triggers", dependencies=READ)
def list_triggers(ctx: Ctx, name: str) -> list[Trigger]:
    with ctx.read() as session:
        return triggers.list_triggers(session, name)


@router.post(
    "/{name}/triggers",
    status_code=201,
    summary="Add a trigger: cron, webhook (its secret is shown once), event or manual",
    dependencies=WRITE,
)
def create_trigger(ctx: Ctx, name: str, data: TriggerCreate) -> Trigger:
    with ctx.write() as session:
        return triggers.create_trigger(
            session,
            name,
            data,
            actor=ctx.actor,
            registry=ctx.app.registry,
            sealer=Sealer(ctx.app.secret_key),
        )


@run_router.get("", summary="List runs, newest first", dependencies=READ)
def list_runs(ctx: Ctx, query: Annotated[RunFilter, Query()]) -> Page[WorkflowRun]:
    with ctx.read() as session:
        return runs.list_runs(session, query)


@run_router.get("/{run_id}", summary="A run with its steps", dependencies=READ)
def get_run(ctx: Ctx, run_id: uuid.UUID) -> WorkflowRun:
    with ctx.read() as session:
        return runs.get_run(session, run_id)


@run_router.post("/{run_id}/approvals", summary="Approve or reject a node", dependencies=RUN)
def decide_approval(ctx: Ctx, run_id: uuid.UUID, data: ApprovalDecision) -> WorkflowRun:
    with ctx.write() as session:
        return runs.decide_approval(session, run_id, data, actor=ctx.actor)


@run_router.post("/{run_id}/cancel", summary="Cancel a run", dependencies=RUN)
def cancel_run(ctx: Ctx, run_id: uuid.UUID) -> WorkflowRun:
    with ctx.write() as session:
        return runs.cancel_run(session, run_id, actor=ctx.actor)


@run_router.post("/{run_id}/pause", summary="Pause a run", dependencies=RUN)
def pause_run(ctx: Ctx, run_id: uuid.UUID) -> WorkflowRun:
    with ctx.write() as session:
        return runs.pause_run(session, run_id, actor=ctx.actor)


@run_router.post(
    "/{run_id}/resume",
    summary="Resume a paused run, or a failed one from its failed step",
    dependencies=RUN,
)
def resume_run(ctx: Ctx, run_id: uuid.UUID, data: RunResume | None = None) -> WorkflowRun:
    with ctx.write() as session:
        return runs.resume_run(
            session, run_id, actor=ctx.actor, version=data.version if data else None
        )


@other_router.get(
    "/workflow-dead-letters",
    summary="Failed runs with their failing steps",
    dependencies=READ,
)
def list_dead_letters(ctx: Ctx) -> list[WorkflowRun]:
    with ctx.read() as session:
        return runs.list_dead_letters(session)


@other_router.delete(
    "/workflow-triggers/{trigger_id}",
    status_code=204,
    summary="Delete a trigger",
    dependencies=WRITE,
)
def delete_trigger(ctx: Ctx, trigger_id: uuid.UUID) -> Response:
    with ctx.write() as session:
        triggers.delete_trigger(session, trigger_id, actor=ctx.actor)
    return Response(status_code=204)


@other_router.post(
    "/workflow-triggers/{trigger_id}/fire",
    summary="Fire a trigger by hand (its overlap policy applies)",
    dependencies=RUN,
)
def fire_trigger(ctx: Ctx, trigger_id: uuid.UUID) -> WorkflowRun | None:
    with ctx.write() as session:
        return triggers.fire(session, trigger_id, {"manual": True}, actor=ctx.actor)


@other_router.get("/workflow-templates", summary="Built-in workflow templates", dependencies=READ)
def list_templates() -> list[WorkflowTemplate]:
    return templates.list_templates()


@other_router.post(
    "/workflow-templates/{template}/instantiate",
    status_code=201,
    summary="Make a workflow from a template",
    dependencies=WRITE,
)
def instantiate_template(ctx: Ctx, template: str, data: TemplateInstantiate) -> WorkflowSaved:
    text = templates.instantiate(template, data.parameters, name_override=data.name)
    with ctx.write() as session:
        return service.save_definition(session, text, actor=ctx.actor, note=f"from {template}")


@hooks_router.post(
    "/{trigger_id}",
    summary="Start a run from a signed webhook delivery (HMAC-SHA256 of the body)",
    dependencies=[need(Permission.PUBLIC)],
    responses={401: {"description": "Missing or bad signature."}},
)
async def receive_webhook(
    state: State,
    request: Request,
    trigger_id: uuid.UUID,
    signature: Annotated[
        str | None,
        Header(
            alias=triggers.SIGNATURE_HEADER,
            description="`sha256=` and the hex HMAC-SHA256 of the raw body with the secret.",
        ),
    ] = None,
    delivery: Annotated[
        str | None,
        Header(
            alias=triggers.DELIVERY_HEADER,
            description="The sender's delivery id: a repeated one starts nothing.",
        ),
    ] = None,
) -> WebhookAccepted:
    body = await request.body()
    if len(body) > MAX_DEFINITION_BYTES:
        raise PayloadTooLarge(f"a delivery is at most {MAX_DEFINITION_BYTES} bytes")
    try:
        payload: Any = json.loads(body) if body else None
    except ValueError:
        payload = body.decode("utf-8", "replace")

    def receive() -> WebhookAccepted:
        with state.db.transaction(None, write=False) as session:
            tenant_id = triggers.find_webhook_tenant(session, trigger_id)
        with state.db.transaction(tenant_id) as session:
            return triggers.receive_webhook(
                session,
                trigger_id,
                body,
                payload,
                signature_header=signature,
                delivery_id=delivery,
                sealer=Sealer(state.secret_key),
            )

    return await run_in_threadpool(receive)
