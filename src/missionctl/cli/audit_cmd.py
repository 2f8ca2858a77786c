"""`missionctl audit …`."""

from __future__ import annotations

from typing import Annotated

import typer

from missionctl.audit.service import verify_chain
from missionctl.cli.context import database
from missionctl.cli.output import print_json

app = typer.Typer(help="The audit trail.", no_args_is_help=True)


@app.command("verify")
def verify(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Check the whole hash chain; exit 1 naming the first bad entry if it is broken."""
    with database() as (_settings, db), db.transaction(None, write=False) as session:
        report = verify_chain(session)
    if as_json:
        print_json(report)
    if report.first_break is not None:
        bad = report.first_break
        typer.echo(f"error: audit entry {bad.audit_id} {bad.reason}", err=True)
        raise typer.Exit(1)
    if not as_json:
        typer.echo(f"audit chain intact: {report.entries} entries")
