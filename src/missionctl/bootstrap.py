"""Putting Mission Control together: open the database, migrate, seed the demo team.

Sits above the domains and below the entry points (web, cli), which both call it.
"""

from __future__ import annotations

import gc
import logging
import os
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import structlog
from sqlalchemy.orm import Session

from missionctl import migrations
from missionctl import tables as _all_tables  # noqa: F401 - map every table before first use
from missionctl.agents.schemas import AgentCreate, AgentFilter
from missionctl.agents.service import (
    create_agent,
    enqueue_due_heartbeats,
    list_agents,
    next_heartbeat_at,
)
from missionctl.board.schemas import TaskCreate, TaskPriority
from missionctl.board.service import create_task
from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID, Database, make_engine, utcnow
from missionctl.engine.leader import leadership_for
from missionctl.engine.registry import JobRegistry, load_plugins
from missionctl.engine.scheduler import (
    Periodic,
    Scheduler,
    builtin_periodic,
    in_batches,
    when_due,
)
from missionctl.engine.worker import Worker, WorkerConfig
from missionctl.errors import InvalidInput
from missionctl.identity.schemas import UserCreate
from missionctl.identity.service import create_user, has_users
from missionctl.memory import service as _memory  # noqa: F401 - registers the task-done lesson
from missionctl.models.bundle import apply_bundle, parse_bundle
from missionctl.models.ledger import purge_old_windows, release_expired_holds
from missionctl.models.metering import purge_expired_cache
from missionctl.permissions import Role
from missionctl.runtime import orchestration as _orchestration  # noqa: F401 - event reactions
from missionctl.sealing import Sealer
from missionctl.settings import Settings, ensure_data_dir, ensure_secret_key
from missionctl.webhooks.service import purge_deliveries

DEMO_TEAM = (
    AgentCreate(
        name="orchestrator",
        role="Orchestrator",
        capabilities=["planning", "decomposition", "assignment", "coordination"],
        instructions="Break goals into tasks with clear owners and dependencies; keep the board "
        "moving; escalate anything stalled to a person.",
        heartbeat_interval_seconds=300,
    ),
    AgentCreate(
        name="researcher",
        role="Researcher",
        capabilities=["research", "analysis", "web", "summarisation"],
        instructions="Find and check facts; cite sources; write findings as research documents.",
    ),
    AgentCreate(
        name="writer",
        role="Writer",
        capabilities=["writing", "editing", "documentation"],
        instructions="Turn research into clear deliverables in the requested format.",
    ),
    AgentCreate(
        name="reviewer",
        role="Reviewer",
        capabilities=["review", "quality", "fact-checking"],
        instructions="Check deliverables against the task; approve, or return them with specific "
        "comments.",
    ),
)

DEMO_GOAL = TaskCreate(
    title="Write a one-page brief on self-hosting AI agent teams",
    description="Research what teams need to run AI agents on their own machines (cost control, "
    "approvals, audit), and write a one-page brief for a non-technical reader.",
    priority=TaskPriority.HIGH,
    is_goal=True,
)


def configure_logging(level: str) -> None:
    """Structured logs at the configured level."""
    logging.basicConfig(format="%(message)s", level=level.upper())
    # Alembic narrates every migration context at INFO; only its warnings matter to operators.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper()))
    )


# Objects a gen-0 collection waits for (CPython's default is 700).
GC_GEN0_THRESHOLD = 20_000


def tune_gc() -> None:
    """Garbage collection for a long-running server or worker process, once it has started.

    What start-up made (modules, mappers, schemas: a few hundred thousand objects) lives as
    long as the process, so it is frozen out of collections; and the young generation is
    collected after 20,000 new objects rather than 700. Under load (bench/agents.py) this cut
    the time spent collecting from about 5 % of the process's CPU to 1 %, and the full
    collections that paused every thread for ~0.2 s. Not for tests: frozen objects are never
    collected.
    """
    gc.collect()
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def open_database(settings: Settings) -> Database:
    """The database the settings name (the data dir is created for SQLite)."""
    if settings.is_sqlite:
        ensure_data_dir(settings)
    return Database(
        make_engine(settings.resolved_database_url, pool_size=settings.db_pool_size),
        writers=settings.db_writers,
    )


def prepare(settings: Settings) -> Database:
    """Data dir, secret key and schema ready: what every process does before serving."""
    ensure_data_dir(settings)
    ensure_secret_key(settings)
    db = open_database(settings)
    migrations.upgrade(db.engine)
    return db


def apply_models_file(db: Database, settings: Settings) -> str | None:
    """Apply `MISSIONCTL_MODELS_FILE` to the default tenant; a one-line summary, if there is one."""
    if settings.models_file is None:
        return None
    try:
        text = settings.models_file.read_text()
    except OSError as exc:
        raise InvalidInput(
            f"cannot read the models file {settings.models_file}: {exc.strerror}"
        ) from None
    parsed = parse_bundle(text)
    with db.transaction() as session:
        applied = apply_bundle(
            session, parsed, actor=Actor.system(), sealer=Sealer(ensure_secret_key(settings))
        )
    return (
        f"Models file {settings.models_file}: {len(applied.created)} created, "
        f"{len(applied.updated)} updated, {len(applied.unchanged)} unchanged."
    )


ADMIN_EMAIL = "admin@missionctl.local"
INITIAL_ADMIN_FILE = "initial-admin.txt"


def ensure_admin(db: Database, data_dir: Path) -> str | None:
    """Create the first admin when there are no users; return its one-time password.

    The password is also written to `<data_dir>/initial-admin.txt` (mode 0600) so that a
    service manager's lost output does not lock the operator out.
    """
    with db.transaction(None) as session:
        if has_users(session):
            return None
        password = secrets.token_urlsafe(18)
        create_user(
            session,
            DEFAULT_TENANT_ID,
            UserCreate(email=ADMIN_EMAIL, password=password, role=Role.ADMIN, display_name="Admin"),
        )
    path = data_dir / INITIAL_ADMIN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"email: {ADMIN_EMAIL}\npassword: {password}\n")
    os.chmod(path, 0o600)
    return password


def is_empty(session: Session) -> bool:
    """True when the tenant has no agents yet."""
    return not list_agents(session, AgentFilter(limit=1)).items


def seed_demo(db: Database) -> bool:
    """Create the demo team and a sample goal in an empty default tenant; True if seeded."""
    with db.transaction() as session:
        if not is_empty(session):
            return False
        actor = Actor.system()
        for agent in DEMO_TEAM:
            create_agent(session, agent, actor=actor)
        create_task(session, DEMO_GOAL, actor=actor)
    return True


# Mission Control's own job kinds, registered like any plugin's (see engine/registry.py).
BUILTIN_PLUGINS = (
    "missionctl.runtime.jobs",
    "missionctl.board.jobs",
    "missionctl.webhooks.jobs",
    "missionctl.workflows.jobs",
)


def build_registry(settings: Settings) -> JobRegistry:
    """Every job kind this deployment runs: the built-in ones and `MISSIONCTL_PLUGINS`."""
    registry = JobRegistry()
    load_plugins(registry, (*BUILTIN_PLUGINS, *settings.plugins))
    return registry


def _heartbeats(db: Database) -> int:
    with db.transaction(None) as session:
        return enqueue_due_heartbeats(session, utcnow())


def _delivery_retention(days: int) -> Callable[[Database], int]:
    def purge(db: Database) -> int:
        cutoff = utcnow() - timedelta(days=days)
        return in_batches(db, lambda session: purge_deliveries(session, cutoff)) if days else 0

    return purge


def _model_housekeeping(db: Database) -> int:
    """Drop lapsed budget holds, expired cached replies and rate windows no longer counted."""
    now = utcnow()
    with db.connect() as conn:
        return (
            release_expired_holds(conn, now)
            + purge_expired_cache(conn, now)
            + purge_old_windows(conn, int(now.timestamp() // 60) - 1)
        )


def periodic_work(settings: Settings, registry: JobRegistry | None = None) -> list[Periodic]:
    """What the active scheduler does: cron, the reaper, retention, and agents' heartbeats."""
    return [
        *builtin_periodic(
            registry or build_registry(settings),
            lease_seconds=settings.job_lease_seconds,
            job_retention_days=settings.job_retention_days,
            event_retention_days=settings.event_retention_days,
        ),
        Periodic("heartbeats", 1.0, when_due(next_heartbeat_at, _heartbeats)),
        Periodic("delivery retention", 600.0, _delivery_retention(settings.job_retention_days)),
        Periodic("model housekeeping", 300.0, _model_housekeeping),
    ]


def make_worker(
    settings: Settings, db: Database, registry: JobRegistry, **overrides: object
) -> Worker:
    """A worker configured by the settings (and `concurrency`, `kinds` overrides)."""
    return Worker(db, registry, settings, WorkerConfig.from_settings(settings, **overrides))


def make_scheduler(
    settings: Settings, db: Database, registry: JobRegistry | None = None
) -> Scheduler:
    """A scheduler that leads or stands by, with the deployment's periodic work."""
    return Scheduler(db, leadership_for(db.engine), periodic_work(settings, registry))


class EmbeddedEngine:
    """A worker and a scheduler inside the API process (`missionctl up`)."""

    def __init__(self, settings: Settings, db: Database, registry: JobRegistry) -> None:
        self.worker = make_worker(settings, db, registry)
        self.scheduler = make_scheduler(settings, db, registry)

    def start(self) -> None:
        """Start both."""
        self.worker.start()
        self.scheduler.start()

    def stop(self) -> None:
        """Stop the scheduler, then let the worker finish or release its jobs."""
        self.scheduler.stop()
        self.worker.stop()
