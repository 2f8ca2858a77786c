"""The FastAPI application: routers, problem responses, health and readiness."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import anyio.to_thread
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from sqlalchemy import text

from missionctl import __version__, migrations
from missionctl import tables as _all_tables  # noqa: F401 - map every table before first use
from missionctl.agents.api import router as agents_router
from missionctl.audit.api import router as audit_router
from missionctl.board.api import router as tasks_router
from missionctl.bootstrap import build_registry
from missionctl.common import Quotas
from missionctl.comms.api import notifications as notifications_router
from missionctl.comms.api import router as messages_router
from missionctl.db import Database
from missionctl.documents.api import router as documents_router
from missionctl.engine.api import jobs as jobs_router
from missionctl.engine.api import schedules_router
from missionctl.engine.api import workers as workers_router
from missionctl.engine.registry import JobRegistry
from missionctl.errors import MissionControlError
from missionctl.events.api import router as activities_router
from missionctl.events.api import streams as streams_router
from missionctl.events.stream import EventTail
from missionctl.identity.api import keys as api_keys_router
from missionctl.identity.api import people as people_router
from missionctl.identity.api import router as auth_router
from missionctl.identity.oidc import OidcClient, OidcConfig
from missionctl.memory.api import router as memory_router
from missionctl.models.api import router as models_router
from missionctl.models.gateway import Gateway, GatewayOptions
from missionctl.permissions import Permission
from missionctl.runtime.api import proposals_router
from missionctl.runtime.api import router as goals_router
from missionctl.sealing import Sealer
from missionctl.settings import Settings, ensure_secret_key
from missionctl.storage import AttachmentStore
from missionctl.web.auth import VerifiedTokens, need
from missionctl.web.cache import CachedReads, ResponseCache, SqliteRevisions
from missionctl.web.deps import AppState, State
from missionctl.web.middleware import BodyLimit, RateLimitHeaders, SecurityHeaders
from missionctl.web.problems import PROBLEM_RESPONSES, Problem, install_problem_handlers
from missionctl.web.ratelimit import InProcessCounter, RateLimiter, RedisCounter, RouteClass
from missionctl.web.ui import dashboard_mount
from missionctl.webhooks.api import router as webhooks_router
from missionctl.workflows.api import hooks_router as workflow_hooks_router
from missionctl.workflows.api import other_router as workflow_other_router
from missionctl.workflows.api import router as workflows_router
from missionctl.workflows.api import run_router as workflow_runs_router
from missionctl.workspace.api import router as workspace_router

API_PREFIX = "/api/v1"


class Health(BaseModel):
    """Liveness."""

    status: str = Field(description="`ok` while the process serves requests.")
    version: str = Field(description="Mission Control version.")


class Readiness(BaseModel):
    """Readiness: the database answers and its schema is current."""

    status: str = Field(description="`ready` when requests can be served.")
    database: str = Field(description="`sqlite` or `postgresql`.")
    schema_revision: str | None = Field(description="Migration the database is at.")


class NotReady(MissionControlError):
    """The database is unreachable or not migrated."""

    code = "not_ready"
    status = 503
    title = "Not ready"


system = APIRouter(tags=["system"])


@system.get("/health", summary="Liveness probe", dependencies=[need(Permission.PUBLIC)])
def health() -> Health:
    return Health(status="ok", version=__version__)


@system.get(
    "/ready",
    summary="Readiness probe",
    dependencies=[need(Permission.PUBLIC)],
    responses={503: {"description": "Database unreachable or schema out of date."}},
)
def ready(state: State) -> Readiness:
    try:
        with state.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        revision = migrations.current_revision(state.db.engine)
    except Exception as exc:
        raise NotReady(f"database unreachable: {type(exc).__name__}") from None
    if revision != migrations.head_revision():
        raise NotReady(f"database schema at {revision}, expected {migrations.head_revision()}")
    return Readiness(
        status="ready", database=state.db.engine.dialect.name, schema_revision=revision
    )


def _document_problems(app: FastAPI) -> None:
    """Put the Problem schema into the OpenAPI components the error responses point at."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class Background(Protocol):
    """Something that runs beside the API for the app's lifetime (the embedded engine)."""

    def start(self) -> None:
        """Start it."""

    def stop(self) -> None:
        """Stop it, finishing or handing back its work."""


def create_app(
    settings: Settings,
    db: Database,
    *,
    registry: JobRegistry | None = None,
    background: Sequence[Background] = (),
) -> FastAPI:
    """Mission Control's HTTP app on an open (and migrated) database.

    `background` services (the embedded worker and scheduler of `missionctl up`) start with the
    app and stop with it.
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        for service in background:
            service.start()
        await state.gateway.warm_up()
        yield
        await state.gateway.aclose()
        state.tail.stop()
        for service in reversed(background):
            await anyio.to_thread.run_sync(service.stop)
        if state.cache is not None:
            state.cache.close()
        db.dispose()

    # FastAPIOffline serves Swagger UI from the package, not a CDN: nothing leaves the machine.
    app = FastAPIOffline(
        title="Mission Control",
        version=__version__,
        description="A self-hosted control plane for teams of AI agents.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        static_url="/docs/assets",
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
    )
    _document_problems(app)
    oidc = None
    if settings.oidc_issuer and settings.oidc_client_id:
        public = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
        oidc = OidcClient(
            OidcConfig(
                issuer=settings.oidc_issuer,
                client_id=settings.oidc_client_id,
                client_secret=settings.oidc_client_secret,
                redirect_uri=f"{public}{API_PREFIX}/auth/oidc/callback",
            )
        )
    state = app.state.mission_control = AppState(
        settings=settings,
        db=db,
        store=AttachmentStore(settings.data_dir / "attachments"),
        secret_key=ensure_secret_key(settings),
        tokens=VerifiedTokens(),
        oidc=oidc,
        quotas=Quotas(
            agents=settings.quota_agents,
            tasks_per_day=settings.quota_tasks_per_day,
            storage_bytes=settings.quota_storage_bytes,
        ),
        limiter=RateLimiter(
            RedisCounter(settings.redis_url) if settings.redis_url else InProcessCounter(),
            {
                RouteClass.AUTH: settings.rate_limit_auth,
                RouteClass.READ: settings.rate_limit_read,
                RouteClass.WRITE: settings.rate_limit_write,
            },
        ),
        registry=registry if registry is not None else build_registry(settings),
        tail=EventTail(db, ping_seconds=settings.stream_ping_seconds),
        gateway=Gateway(
            db, Sealer(ensure_secret_key(settings)), GatewayOptions.from_settings(settings)
        ),
        # Valid only where event ids commit in order: see web/cache.py.
        cache=ResponseCache(SqliteRevisions(db.engine))
        if settings.response_cache and db.engine.dialect.name == "sqlite"
        else None,
    )
    install_problem_handlers(app)
    # Outermost last: headers on everything, then CORS, the body limit, and cached reads.
    app.add_middleware(CachedReads, state=state)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "X-Tenant"],
            expose_headers=["ETag"],
        )
    app.add_middleware(SecurityHeaders)
    for router in (
        system,
        agents_router,
        tasks_router,
        goals_router,
        proposals_router,
        messages_router,
        notifications_router,
        documents_router,
        activities_router,
        workspace_router,
        memory_router,
        auth_router,
        api_keys_router,
        people_router,
        audit_router,
        jobs_router,
        schedules_router,
        workers_router,
        webhooks_router,
        models_router,
        streams_router,
        workflows_router,
        workflow_runs_router,
        workflow_other_router,
        workflow_hooks_router,
    ):
        app.include_router(router, prefix=API_PREFIX)

    # Last, so every route above matches first: the dashboard's files and its page fallback.
    app.router.routes.append(dashboard_mount())
    return app
