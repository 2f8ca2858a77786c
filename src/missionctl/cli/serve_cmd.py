"""`missionctl up` and `missionctl api`: serve Mission Control."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from missionctl import __version__
from missionctl.bootstrap import (
    ADMIN_EMAIL,
    INITIAL_ADMIN_FILE,
    EmbeddedEngine,
    apply_models_file,
    build_registry,
    configure_logging,
    ensure_admin,
    prepare,
    seed_demo,
    tune_gc,
)
from missionctl.cli.workers import supervise
from missionctl.db import DEFAULT_TENANT_ID, DEFAULT_TENANT_SLUG
from missionctl.settings import Settings, load_settings
from missionctl.web.app import create_app
from missionctl.web.server import serve, server_config
from missionctl.workspace.service import mirror_path, render_working_md, write_mirror

HostOption = Annotated[
    str | None, typer.Option("--host", help="Address to bind (MISSIONCTL_HOST).")
]
PortOption = Annotated[
    int | None, typer.Option("--port", min=1, max=65535, help="Port (MISSIONCTL_PORT).")
]


def _settings(host: str | None, port: int | None) -> Settings:
    overrides = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
    return load_settings(**overrides)


def _where(settings: Settings) -> str:
    url = make_url(settings.resolved_database_url)
    return f"SQLite at {url.database}" if settings.is_sqlite else f"PostgreSQL at {url.host}"


def up(
    host: HostOption = None,
    port: PortOption = None,
    no_demo: Annotated[
        bool, typer.Option("--no-demo", help="Do not seed the demo team into an empty database.")
    ] = False,
) -> None:
    """Migrate, seed the demo team if the database is empty, and serve Mission Control."""
    settings = _settings(host, port)
    configure_logging(settings.log_level)
    db = prepare(settings)
    if not no_demo and seed_demo(db):
        typer.echo("Seeded the demo team: orchestrator, researcher, writer, reviewer.")
    if (applied := apply_models_file(db, settings)) is not None:
        typer.echo(applied)
    password = ensure_admin(db, settings.data_dir)
    if password is not None:
        typer.echo(
            f"Created the first admin. Sign in as {ADMIN_EMAIL} with password {password}\n"
            f"(shown once; also in {settings.data_dir / INITIAL_ADMIN_FILE}, mode 0600)."
        )
    with db.transaction(DEFAULT_TENANT_ID, write=False) as session:
        working_md = render_working_md(session)
    write_mirror(
        mirror_path(settings.data_dir, DEFAULT_TENANT_SLUG, is_default=True), working_md.content
    )
    registry = build_registry(settings)
    engine = EmbeddedEngine(settings, db, registry)
    tune_gc()
    typer.echo(
        f"Mission Control {__version__} on http://{settings.host}:{settings.port} "
        f"({_where(settings)}; API docs at /docs; a worker running "
        f"{settings.worker_concurrency} jobs at once and the scheduler in this process)"
    )
    serve(
        server_config(
            create_app(settings, db, registry=registry, background=[engine]),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
        )
    )


def api(
    host: HostOption = None,
    port: PortOption = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Processes.")] = 1,
) -> None:
    """Serve the API only (no demo seeding), in one or more processes; for scale-out."""
    settings = _settings(host, port)
    configure_logging(settings.log_level)
    db = prepare(settings)
    if (applied := apply_models_file(db, settings)) is not None:
        typer.echo(applied)
    db.dispose()
    typer.echo(
        f"Mission Control API on http://{settings.host}:{settings.port} ({workers} worker(s))"
    )
    if workers > 1:
        supervise(workers, settings.host, settings.port, settings.log_level)
        return
    serve(
        server_config(
            "missionctl.web.main:app_factory",
            factory=True,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
        )
    )
