"""HTTP routes of the model layer: deployments, policies, budgets, usage and the playground."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    SystemPromptPart,
    TextPart,
    TextPartDelta,
    UserPromptPart,
)
from pydantic_ai.settings import ModelSettings

from missionctl.errors import MissionControlError
from missionctl.models import budgets, service, usage
from missionctl.models.accounting import nanos_to_usd
from missionctl.models.catalog import DEPLOYMENT_PREFIX, DeploymentSpec
from missionctl.models.gateway import MODEL_FAILURES, Completion, Gateway, RoutedStream
from missionctl.models.metering import CallContext
from missionctl.models.schemas import (
    OFFLINE_LABEL,
    Budget,
    BudgetCreate,
    BudgetScope,
    BudgetUpdate,
    ConnectionTest,
    Deployment,
    DeploymentCreate,
    DeploymentUpdate,
    PlaygroundChat,
    PlaygroundReply,
    Policy,
    PolicyCreate,
    PolicyUpdate,
    Provider,
    UsageFilter,
    UsageReport,
)
from missionctl.permissions import Permission
from missionctl.sealing import Sealer
from missionctl.web.auth import need
from missionctl.web.deps import Ctx, RequestContext

router = APIRouter(tags=["models"])
READ = [need(Permission.MODELS_READ)]
MANAGE = [need(Permission.MODELS_MANAGE)]
BUDGETS = [need(Permission.BUDGETS_MANAGE)]
USE = [need(Permission.MODELS_USE)]


def _changed(ctx: RequestContext) -> None:
    Gateway.invalidate_everywhere(ctx.app.gateway.db, ctx.tenant_id)


# -- deployments ---------------------------------------------------------------------------


@router.get("/models", summary="List model deployments", dependencies=READ)
def list_deployments(ctx: Ctx) -> list[Deployment]:
    with ctx.read() as session:
        return service.list_deployments(session)


@router.post("/models", status_code=201, summary="Add a model deployment", dependencies=MANAGE)
def create_deployment(ctx: Ctx, data: DeploymentCreate) -> Deployment:
    with ctx.write() as session:
        created = service.create_deployment(
            session, data, actor=ctx.actor, sealer=Sealer(ctx.app.secret_key)
        )
    _changed(ctx)
    return created


@router.get("/models/{name}", summary="Get a model deployment", dependencies=READ)
def get_deployment(ctx: Ctx, name: str) -> Deployment:
    with ctx.read() as session:
        return service.get_deployment(session, name)


@router.patch("/models/{name}", summary="Change a model deployment", dependencies=MANAGE)
def update_deployment(ctx: Ctx, name: str, data: DeploymentUpdate) -> Deployment:
    with ctx.write() as session:
        updated = service.update_deployment(
            session, name, data, actor=ctx.actor, sealer=Sealer(ctx.app.secret_key)
        )
    _changed(ctx)
    return updated


@router.delete(
    "/models/{name}", status_code=204, summary="Remove a model deployment", dependencies=MANAGE
)
def delete_deployment(ctx: Ctx, name: str) -> Response:
    with ctx.write() as session:
        service.delete_deployment(session, name, actor=ctx.actor)
    _changed(ctx)
    return Response(status_code=204)


@router.post("/models/{name}/test", summary="Test a deployment's connection", dependencies=MANAGE)
async def test_deployment(ctx: Ctx, name: str) -> ConnectionTest:
    started = time.perf_counter()
    messages: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart(content="Say OK.")])]
    context = CallContext(ctx.tenant_id)
    _changed(ctx)
    try:
        completion = await ctx.app.gateway.request(
            context, f"{DEPLOYMENT_PREFIX}{name}", messages, ModelSettings(max_tokens=5)
        )
    except MissionControlError as exc:
        return ConnectionTest(
            is_ok=False, latency_ms=(time.perf_counter() - started) * 1000, detail=exc.detail
        )
    return ConnectionTest(
        is_ok=True, latency_ms=completion.latency_ms, detail=_text(completion.response)[:200]
    )


# -- policies ------------------------------------------------------------------------------


@router.get("/model-policies", summary="List routing policies", dependencies=READ)
def list_policies(ctx: Ctx) -> list[Policy]:
    with ctx.read() as session:
        return service.list_policies(session)


@router.post(
    "/model-policies", status_code=201, summary="Add a routing policy", dependencies=MANAGE
)
def create_policy(ctx: Ctx, data: PolicyCreate) -> Policy:
    with ctx.write() as session:
        created = service.create_policy(session, data, actor=ctx.actor)
    _changed(ctx)
    return created


@router.get("/model-policies/{name}", summary="Get a routing policy", dependencies=READ)
def get_policy(ctx: Ctx, name: str) -> Policy:
    with ctx.read() as session:
        return service.get_policy(session, name)


@router.patch("/model-policies/{name}", summary="Change a routing policy", dependencies=MANAGE)
def update_policy(ctx: Ctx, name: str, data: PolicyUpdate) -> Policy:
    with ctx.write() as session:
        updated = service.update_policy(session, name, data, actor=ctx.actor)
    _changed(ctx)
    return updated


@router.delete(
    "/model-policies/{name}",
    status_code=204,
    summary="Remove a routing policy",
    dependencies=MANAGE,
)
def delete_policy(ctx: Ctx, name: str) -> Response:
    with ctx.write() as session:
        service.delete_policy(session, name, actor=ctx.actor)
    _changed(ctx)
    return Response(status_code=204)


# -- budgets -------------------------------------------------------------------------------


@router.get("/budgets", summary="List budgets with their spend", dependencies=READ)
def list_budgets(
    ctx: Ctx,
    scope: Annotated[BudgetScope | None, Query(description="Only budgets of this scope.")] = None,
) -> list[Budget]:
    with ctx.read() as session:
        return budgets.list_budgets(session, scope)


@router.post("/budgets", status_code=201, summary="Set a hard budget", dependencies=BUDGETS)
def create_budget(ctx: Ctx, data: BudgetCreate) -> Budget:
    with ctx.write() as session:
        created = budgets.create_budget(session, data, actor=ctx.actor)
    _changed(ctx)
    return created


@router.get("/budgets/{budget_id}", summary="Get a budget", dependencies=READ)
def get_budget(ctx: Ctx, budget_id: uuid.UUID) -> Budget:
    with ctx.read() as session:
        return budgets.get_budget(session, budget_id)


@router.patch("/budgets/{budget_id}", summary="Change a budget's limits", dependencies=BUDGETS)
def update_budget(ctx: Ctx, budget_id: uuid.UUID, data: BudgetUpdate) -> Budget:
    with ctx.write() as session:
        updated = budgets.update_budget(session, budget_id, data, actor=ctx.actor)
    _changed(ctx)
    return updated


@router.delete(
    "/budgets/{budget_id}", status_code=204, summary="Remove a budget", dependencies=BUDGETS
)
def delete_budget(ctx: Ctx, budget_id: uuid.UUID) -> Response:
    with ctx.write() as session:
        budgets.delete_budget(session, budget_id, actor=ctx.actor)
    _changed(ctx)
    return Response(status_code=204)


# -- usage ---------------------------------------------------------------------------------


@router.get(
    "/usage",
    summary="Model usage aggregated by day, agent, model, deployment, task or run",
    dependencies=READ,
    response_model=UsageReport,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_usage(ctx: Ctx, query: Annotated[UsageFilter, Query()]) -> UsageReport | Response:
    with ctx.read() as session:
        report = usage.usage_report(session, query)
    if query.format == "csv":
        return Response(
            usage.report_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="usage-{query.group_by}.csv"'},
        )
    return report


# -- playground ----------------------------------------------------------------------------


def _messages(data: PlaygroundChat) -> list[ModelMessage]:
    messages: list[ModelMessage] = []
    for message in data.messages:
        if message.role == "assistant":
            messages.append(ModelResponse(parts=[TextPart(content=message.content)]))
            continue
        part = (
            SystemPromptPart(content=message.content)
            if message.role == "system"
            else UserPromptPart(content=message.content)
        )
        if messages and isinstance(messages[-1], ModelRequest):
            messages[-1].parts = [*messages[-1].parts, part]
        else:
            messages.append(ModelRequest(parts=[part]))
    return messages


def _settings(data: PlaygroundChat) -> ModelSettings:
    settings = ModelSettings()
    if data.max_tokens is not None:
        settings["max_tokens"] = data.max_tokens
    if data.temperature is not None:
        settings["temperature"] = data.temperature
    return settings


def _text(response: ModelResponse) -> str:
    return "".join(part.content for part in response.parts if isinstance(part, TextPart))


def _label(spec: DeploymentSpec) -> str:
    return OFFLINE_LABEL if spec.provider is Provider.OFFLINE else f"{spec.provider}/{spec.model}"


def _reply(data: PlaygroundChat, completion: Completion) -> PlaygroundReply:
    spec = completion.deployment
    return PlaygroundReply(
        model=data.model,
        deployment=spec.name,
        provider=spec.provider,
        model_name=spec.model,
        label=_label(spec),
        content=_text(completion.response),
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
        cost_usd=nanos_to_usd(completion.cost_nanos),
        is_priced=completion.cost_nanos is not None,
        latency_ms=round(completion.latency_ms, 3),
        is_cache_hit=completion.is_cache_hit,
        attempts=list(completion.attempts),
    )


def _context(ctx: RequestContext) -> CallContext:
    return CallContext(ctx.tenant_id, agent_id=ctx.principal.agent_id)


@router.post(
    "/playground/chat",
    summary="Chat with a model alias or deployment, with usage and cost",
    dependencies=USE,
    response_model=PlaygroundReply,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def playground_chat(ctx: Ctx, data: PlaygroundChat) -> PlaygroundReply | StreamingResponse:
    gateway = ctx.app.gateway
    if not data.stream:
        completion = await gateway.request(
            _context(ctx),
            data.model,
            _messages(data),
            _settings(data),
            cache_ttl_seconds=data.cache_ttl_seconds,
        )
        return _reply(data, completion)
    # Enter the stream here: a refusal or failure before the first token is a proper error
    # response; after it, the body is committed to 200 and errors arrive as an `error` event.
    stack = AsyncExitStack()
    stream = await stack.enter_async_context(
        gateway.stream(_context(ctx), data.model, _messages(data), _settings(data))
    )
    return StreamingResponse(_stream(data, stack, stream), media_type="text/event-stream")


def _sse(event: str, payload: object) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


async def _stream(
    data: PlaygroundChat, stack: AsyncExitStack, stream: RoutedStream
) -> AsyncIterator[bytes]:
    """Server-sent events: `delta` with text as it comes, then `done` with usage, or `error`."""
    started = time.perf_counter()
    try:
        async with stack:
            async for event in stream:
                text = ""
                if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                    text = event.part.content
                elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                    text = event.delta.content_delta
                if text:
                    yield _sse("delta", {"content": text})
    except MODEL_FAILURES as exc:
        yield _sse("error", {"code": "model_failed", "detail": f"{type(exc).__name__}: {exc}"})
        return
    response, spec = stream.get(), stream.deployment
    usage_ = response.usage
    completion = Completion(
        alias=data.model,
        deployment=spec,
        response=response,
        input_tokens=usage_.input_tokens,
        output_tokens=usage_.output_tokens,
        cost_nanos=spec.cost_nanos(usage_.input_tokens, usage_.output_tokens),
        latency_ms=(time.perf_counter() - started) * 1000,
        is_cache_hit=False,
        attempts=(),
    )
    yield _sse("done", _reply(data, completion).model_dump(mode="json"))
