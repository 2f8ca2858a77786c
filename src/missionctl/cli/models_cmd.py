"""`missionctl models`, `missionctl budgets`, `missionctl usage`: the model layer in a shell."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
import yaml
from pydantic_ai.messages import ModelMessage, ModelRequest, TextPart, UserPromptPart

from missionctl.cli.context import database
from missionctl.cli.output import print_json, print_table
from missionctl.cli.validation import build, parse_id
from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID, Database
from missionctl.errors import InvalidInput
from missionctl.identity.service import get_tenant
from missionctl.models import budgets, bundle, service, usage
from missionctl.models.accounting import nanos_to_usd
from missionctl.models.gateway import Gateway, GatewayOptions
from missionctl.models.metering import CallContext
from missionctl.models.schemas import (
    BudgetCreate,
    BudgetUpdate,
    DeploymentCreate,
    UsageFilter,
    UsageGroupBy,
)
from missionctl.sealing import Sealer
from missionctl.settings import Settings, ensure_secret_key

app = typer.Typer(help="Model deployments, routing policies, the playground.", no_args_is_help=True)
budgets_app = typer.Typer(help="Hard budgets on model spend.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Tenant slug (default: the default tenant).")
]
ACTOR = Actor.system()


@contextmanager
def _tenant_db(tenant: str | None) -> Iterator[tuple[Settings, Database, uuid.UUID]]:
    with database() as (settings, db):
        tenant_id = DEFAULT_TENANT_ID
        if tenant is not None:
            with db.transaction(None, write=False) as session:
                tenant_id = get_tenant(session, tenant).tenant_id
        yield settings, db, tenant_id


@app.command("list")
def list_models(tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """List deployments (the offline model first) with prices and tags."""
    with _tenant_db(tenant) as (_settings, db, tenant_id), db.transaction(tenant_id) as session:
        deployments = service.list_deployments(session)
    if as_json:
        print_json(deployments)
        return
    print_table(
        ["NAME", "LABEL", "BASE URL", "KEY", "IN $/MTOK", "OUT $/MTOK", "TAGS", "ENABLED"],
        [
            [
                d.name,
                d.label,
                d.base_url or "",
                "yes" if d.has_api_key else "",
                "unpriced" if d.prices.input_per_mtok is None else d.prices.input_per_mtok,
                "unpriced" if d.prices.output_per_mtok is None else d.prices.output_per_mtok,
                ",".join(d.tags),
                "yes" if d.is_enabled else "no",
            ]
            for d in deployments
        ],
    )


@app.command("add")
def add_model(
    name: Annotated[str, typer.Argument(help="Unique name, e.g. gpt-fast.")],
    provider: Annotated[str, typer.Option(help="openai, openai-compatible, anthropic, gemini.")],
    model: Annotated[str, typer.Option(help="The provider's model name.")],
    base_url: Annotated[str | None, typer.Option(help="API base URL.")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Read the API key from this environment variable.")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option(help="A tag (repeat for more).")] = None,
    tenant: TenantOption = None,
) -> None:
    """Add a deployment (the key is read from an environment variable, never an argument)."""

    api_key = os.environ.get(api_key_env) if api_key_env else None
    if api_key_env and not api_key:
        raise InvalidInput(f"environment variable {api_key_env} is not set")
    data = build(
        DeploymentCreate,
        name=name,
        provider=provider,
        model=model,
        base_url=base_url,
        api_key=api_key,
        tags=tag or [],
    )
    with _tenant_db(tenant) as (settings, db, tenant_id), db.transaction(tenant_id) as session:
        created = service.create_deployment(
            session, data, actor=ACTOR, sealer=Sealer(ensure_secret_key(settings))
        )
    typer.echo(f"added {created.name} ({created.label})")


@app.command("remove")
def remove_model(name: str, tenant: TenantOption = None) -> None:
    """Remove a deployment."""
    with _tenant_db(tenant) as (_settings, db, tenant_id), db.transaction(tenant_id) as session:
        service.delete_deployment(session, name, actor=ACTOR)
    typer.echo(f"removed {name}")


@app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="A YAML or JSON catalog file.")],
    tenant: TenantOption = None,
) -> None:
    """Make the catalog match a file: deployments, policies and budgets it names."""
    try:
        text = file.read_text()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
    parsed = bundle.parse_bundle(text)
    with _tenant_db(tenant) as (settings, db, tenant_id), db.transaction(tenant_id) as session:
        applied = bundle.apply_bundle(
            session, parsed, actor=ACTOR, sealer=Sealer(ensure_secret_key(settings))
        )
    for verb, names in (("created", applied.created), ("updated", applied.updated)):
        for item in names:
            typer.echo(f"{verb} {item}")
    typer.echo(
        f"{len(applied.created)} created, {len(applied.updated)} updated, "
        f"{len(applied.unchanged)} unchanged"
    )


@app.command("export")
def export(tenant: TenantOption = None) -> None:
    """Print the catalog as YAML (keys are never exported)."""
    with _tenant_db(tenant) as (_settings, db, tenant_id), db.transaction(tenant_id) as session:
        exported = bundle.export_bundle(session)
    typer.echo(yaml.safe_dump(exported, sort_keys=False).rstrip())


async def _ask(gateway: Gateway, context: CallContext, alias: str, text: str) -> tuple[str, str]:
    messages: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart(content=text)])]
    try:
        completion = await gateway.request(context, alias, messages)
    finally:
        await gateway.aclose()
    reply = "".join(p.content for p in completion.response.parts if isinstance(p, TextPart))
    cost = nanos_to_usd(completion.cost_nanos)
    footer = (
        f"[{completion.deployment.name}: {completion.input_tokens} in, "
        f"{completion.output_tokens} out, "
        f"{'unpriced' if cost is None else f'${cost:.6f}'}, {completion.latency_ms:.0f} ms]"
    )
    return reply, footer


@app.command("chat")
def chat(
    alias: Annotated[str, typer.Argument(help="Policy alias or deployment, e.g. smart.")],
    text: Annotated[str, typer.Argument(help="What to say ('-' reads standard input).")],
    tenant: TenantOption = None,
) -> None:
    """Send one message through the gateway and print the reply with its cost."""
    if text == "-":
        text = sys.stdin.read()
    with _tenant_db(tenant) as (settings, db, tenant_id):
        gateway = Gateway(
            db, Sealer(ensure_secret_key(settings)), GatewayOptions.from_settings(settings)
        )
        reply, footer = asyncio.run(_ask(gateway, CallContext(tenant_id), alias, text))
    typer.echo(reply)
    typer.echo(footer, err=True)


@budgets_app.command("list")
def list_budgets(tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """Budgets with what they have spent this period."""
    with _tenant_db(tenant) as (_settings, db, tenant_id), db.transaction(tenant_id) as session:
        rows = budgets.list_budgets(session)
    if as_json:
        print_json(rows)
        return
    print_table(
        ["ID", "SCOPE", "PERIOD", "LIMIT $", "SPENT $", "LIMIT TOKENS", "SPENT TOKENS", "STATE"],
        [
            [
                b.budget_id,
                b.scope.value + (f" {b.scope_id}" if b.scope_id else ""),
                b.period_key,
                "" if b.limit_usd is None else b.limit_usd,
                round(b.spent_usd, 6),
                "" if b.limit_tokens is None else b.limit_tokens,
                b.spent_tokens,
                "exhausted" if b.is_exhausted else "ok",
            ]
            for b in rows
        ],
    )


@budgets_app.command("set")
def set_budget(
    scope: Annotated[str, typer.Option(help="tenant, agent, workflow or run.")] = "tenant",
    scope_id: Annotated[str | None, typer.Option(help="Agent or run id, or workflow.")] = None,
    period: Annotated[str, typer.Option(help="daily, monthly or total.")] = "monthly",
    usd: Annotated[float | None, typer.Option(help="USD limit.")] = None,
    tokens: Annotated[int | None, typer.Option(help="Token limit.")] = None,
    tenant: TenantOption = None,
) -> None:
    """Set a new hard budget."""
    data = build(
        BudgetCreate,
        scope=scope,
        scope_id=scope_id,
        period=period,
        limit_usd=usd,
        limit_tokens=tokens,
    )
    with _tenant_db(tenant) as (_settings, db, tenant_id), db.transaction(tenant_id) as session:
        created = budgets.create_budget(session, data, actor=ACTOR)
    typer.echo(f"budget {created.budget_id} set")


@budgets_app.command("raise")
def raise_budget(
    budget_id: Annotated[str, typer.Argument(help="The budget's id.")],
    usd: Annotated[float | None, typer.Option(help="New USD limit.")] = None,
    tokens: Annotated[int | None, typer.Option(help="New token limit.")] = None,
    tenant: TenantOption = None,
) -> None:
    """Change a budget's limits (refused calls may run again)."""
    changes = {k: v for k, v in (("limit_usd", usd), ("limit_tokens", tokens)) if v is not None}
    if not changes:
        raise InvalidInput("give --usd, --tokens or both")
    data = build(BudgetUpdate, **changes)
    with _tenant_db(tenant) as (_settings, db, tenant_id), db.transaction(tenant_id) as session:
        updated = budgets.update_budget(session, parse_id(budget_id, "budget"), data, actor=ACTOR)
    typer.echo(
        f"budget {updated.budget_id}: {updated.limit_usd} USD, {updated.limit_tokens} tokens"
    )


def show_usage(
    group_by: Annotated[UsageGroupBy, typer.Option(help="How to aggregate.")] = UsageGroupBy.DAY,
    since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD.")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    tenant: TenantOption = None,
    as_json: JsonOption = False,
) -> None:
    """Model usage and cost, aggregated by day, agent, model, deployment, task or run."""
    usage_filter = build(
        UsageFilter,
        group_by=group_by,
        since=_day(since, "since"),
        until=_day(until, "until"),
    )
    with _tenant_db(tenant) as (_settings, db, tenant_id), db.transaction(tenant_id) as session:
        report = usage.usage_report(session, usage_filter)
    if as_csv:
        typer.echo(usage.report_csv(report).rstrip())
        return
    if as_json:
        print_json(report)
        return
    print_table(
        [group_by.value.upper(), "REQUESTS", "IN", "OUT", "COST $", "UNPRICED", "ERRORS"],
        [
            [
                g.key or "-",
                g.requests,
                g.input_tokens,
                g.output_tokens,
                round(g.cost_usd, 6),
                g.unpriced_requests,
                g.errors,
            ]
            for g in [*report.groups, report.total.model_copy(update={"key": "total"})]
        ],
    )


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--{name} must be a date like 2026-11-30", field=name) from None
