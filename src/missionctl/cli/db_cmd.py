"""`missionctl db …`: schema management."""

from __future__ import annotations

import typer

from missionctl import migrations
from missionctl.bootstrap import open_database
from missionctl.settings import ensure_data_dir, load_settings

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply all migrations (safe to repeat)."""
    settings = load_settings()
    ensure_data_dir(settings)
    db = open_database(settings)
    try:
        migrations.upgrade(db.engine)
        typer.echo(f"database at revision {migrations.current_revision(db.engine)}")
    finally:
        db.dispose()


@app.command("current")
def current() -> None:
    """Show the database's revision and the newest one shipped."""
    settings = load_settings()
    db = open_database(settings)
    try:
        typer.echo(f"current: {migrations.current_revision(db.engine) or 'none'}")
        typer.echo(f"head:    {migrations.head_revision()}")
    finally:
        db.dispose()
