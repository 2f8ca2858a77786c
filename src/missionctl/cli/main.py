"""The `missionctl` command line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from missionctl import __version__
from missionctl.cli import (
    agents_cmd,
    audit_cmd,
    db_cmd,
    engine_cmd,
    goal_cmd,
    jobs_cmd,
    models_cmd,
    serve_cmd,
    tasks_cmd,
    users_cmd,
    workflows_cmd,
)
from missionctl.errors import MissionControlError
from missionctl.settings import SettingsError

app = typer.Typer(
    name="missionctl",
    help="Mission Control: a self-hosted control plane for teams of AI agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db_cmd.app, name="db")
app.add_typer(agents_cmd.app, name="agents")
app.add_typer(tasks_cmd.app, name="tasks")
app.add_typer(users_cmd.app, name="users")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(jobs_cmd.app, name="jobs")
app.add_typer(models_cmd.app, name="models")
app.add_typer(models_cmd.budgets_app, name="budgets")
app.add_typer(workflows_cmd.app, name="workflows")
app.command("usage")(models_cmd.show_usage)
app.command("up")(serve_cmd.up)
app.command("api")(serve_cmd.api)
app.command("worker")(engine_cmd.worker)
app.command("scheduler")(engine_cmd.scheduler)
app.command("goal")(goal_cmd.goal)

F = TypeVar("F", bound=Callable[..., Any])


def _version(value: bool) -> None:
    if value:
        typer.echo(f"missionctl {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Mission Control: a self-hosted control plane for teams of AI agents."""


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    sys.exit(code)


def main() -> None:
    """Console-script entry point: run the CLI, turning known errors into one line + exit code."""
    try:
        app()
    except MissionControlError as exc:
        _fail(exc.detail, exc.exit_code)
    except SettingsError as exc:
        _fail(str(exc), 2)
    except OperationalError as exc:
        _fail(f"database unavailable: {str(exc.orig).strip().splitlines()[0]}", 5)
    except SQLAlchemyError as exc:
        _fail(f"database error: {str(exc).strip().splitlines()[0]}", 5)
