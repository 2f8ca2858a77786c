"""`missionctl users …`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from pydantic import BaseModel, Field

from missionctl.cli.context import database
from missionctl.cli.output import print_json
from missionctl.cli.validation import build
from missionctl.errors import InvalidInput
from missionctl.identity.schemas import SLUG_PATTERN, UserCreate
from missionctl.identity.service import create_user, ensure_tenant
from missionctl.permissions import Role

app = typer.Typer(help="People and their roles.", no_args_is_help=True)


class _Slug(BaseModel):
    slug: str = Field(pattern=SLUG_PATTERN)


@app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="Tenant slug; created if missing.")],
    email: Annotated[str, typer.Option(help="The user's e-mail.")],
    role: Annotated[Role, typer.Option(help="admin, developer, operator or viewer.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a user with a role in a tenant (the password never goes on the command line)."""
    if not password_stdin:
        raise InvalidInput("pass the password on standard input with --password-stdin")
    if role is Role.AGENT:
        raise InvalidInput("agents sign in with API keys, not as users")
    password = sys.stdin.readline().rstrip("\r\n")
    data = build(UserCreate, email=email, password=password, role=role)
    slug = build(_Slug, slug=tenant).slug
    with database() as (_settings, db), db.transaction(None) as session:
        found = ensure_tenant(session, slug)
        user = create_user(session, found.tenant_id, data)
    if as_json:
        print_json({"user": user.model_dump(mode="json"), "tenant": slug, "role": role.value})
    else:
        typer.echo(f"created {user.email} as {role.value} in {slug}")
