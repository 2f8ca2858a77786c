"""The model catalog: deployments (with sealed credentials) and routing policies.

The built-in offline deployment and the default policies (`smart`, `fast`, `cheap`, `default`)
exist in every tenant without rows: a default policy routes to the tenant's deployments tagged
with its name, or to the offline model while there are none. A tenant's own policy or deployment
of the same name wins.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from missionctl.audit.service import record_audit
from missionctl.common import Actor
from missionctl.errors import AlreadyExists, InvalidInput, NotFound
from missionctl.events.service import record_event
from missionctl.models.catalog import (
    BUILTIN_POLICIES,
    Catalog,
    DeploymentSpec,
    PolicySpec,
    builtin_policy,
    offline_spec,
)
from missionctl.models.models import BudgetRow, DeploymentRow, PolicyRow
from missionctl.models.pricing import effective_prices
from missionctl.models.schemas import (
    OFFLINE,
    OFFLINE_LABEL,
    Capabilities,
    Deployment,
    DeploymentCreate,
    DeploymentUpdate,
    Policy,
    PolicyCreate,
    PolicyUpdate,
    Prices,
    Provider,
    Strategy,
)
from missionctl.sealing import Sealer

DEFAULT_TIMEOUT_SECONDS = 60.0


def seal_context(deployment_id: uuid.UUID) -> str:
    """What a deployment's sealed API key is bound to."""
    return f"model_deployment:{deployment_id}"


def record_change(
    session: Session,
    change: str,
    actor: Actor,
    kind: str,
    key: uuid.UUID,
    summary: str,
    **details: Any,
) -> None:
    """Audit a change of the catalog or a budget, and put it in the activity log."""
    record_audit(session, change, actor=actor, subject_kind=kind, subject_id=key, details=details)
    record_event(
        session,
        change,
        actor=actor,
        subject_kind=kind,
        subject_id=key,
        summary=summary,
        payload=details,
    )


def _record(
    session: Session, action: str, actor: Actor, kind: str, key: uuid.UUID, **details: Any
) -> None:
    label = f"{kind.replace('_', ' ').capitalize()} {details.get('name', key)} {action}"
    record_change(session, f"{kind}.{action}", actor, kind, key, label, **details)


# -- deployments ---------------------------------------------------------------------------


def _prices(row: DeploymentRow) -> Prices:
    return Prices(
        input_per_mtok=row.input_price_per_mtok, output_per_mtok=row.output_price_per_mtok
    )


def _deployment(row: DeploymentRow) -> Deployment:
    return Deployment(
        deployment_id=row.deployment_id,
        name=row.name,
        label=f"{row.provider}/{row.model}",
        provider=Provider(row.provider),
        model=row.model,
        base_url=row.base_url,
        has_api_key=row.api_key_sealed is not None,
        capabilities=Capabilities.model_validate(row.capabilities),
        prices=effective_prices(row.provider, row.model, row.base_url, _prices(row)),
        tags=row.tags,
        requests_per_minute=row.requests_per_minute,
        tokens_per_minute=row.tokens_per_minute,
        timeout_seconds=row.timeout_seconds,
        is_enabled=row.is_enabled,
        is_builtin=False,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def offline_deployment() -> Deployment:
    """The built-in offline model as a deployment."""
    spec = offline_spec()
    return Deployment(
        deployment_id=None,
        name=OFFLINE,
        label=OFFLINE_LABEL,
        provider=Provider.OFFLINE,
        model=OFFLINE,
        base_url=None,
        has_api_key=False,
        capabilities=Capabilities(tools=True, json_output=True, vision=False),
        prices=effective_prices(Provider.OFFLINE, OFFLINE, None, None),
        tags=[],
        requests_per_minute=None,
        tokens_per_minute=None,
        timeout_seconds=spec.timeout_seconds,
        is_enabled=True,
        is_builtin=True,
    )


def _deployment_row(session: Session, name: str) -> DeploymentRow:
    row = session.scalar(select(DeploymentRow).where(DeploymentRow.name == name))
    if row is None:
        raise NotFound("model deployment", name)
    return row


def _apply_fields(row: DeploymentRow, changes: dict[str, Any]) -> None:
    if changes.get("capabilities") is not None:
        row.capabilities = Capabilities.model_validate(changes["capabilities"]).model_dump()
    if "prices" in changes:
        prices = Prices.model_validate(changes["prices"] or {})
        row.input_price_per_mtok = prices.input_per_mtok
        row.output_price_per_mtok = prices.output_per_mtok
    if "tags" in changes:
        row.tags = list(dict.fromkeys(changes["tags"] or []))
    for key in ("model", "base_url", "requests_per_minute", "tokens_per_minute"):
        if key in changes:
            setattr(row, key, changes[key])
    for key in ("timeout_seconds", "is_enabled"):
        if changes.get(key) is not None:
            setattr(row, key, changes[key])


def create_deployment(
    session: Session, data: DeploymentCreate, *, actor: Actor, sealer: Sealer
) -> Deployment:
    """Add a deployment; its API key is sealed and never shown again."""
    if session.scalar(select(DeploymentRow.deployment_id).where(DeploymentRow.name == data.name)):
        raise AlreadyExists(f"a model deployment named {data.name!r} exists", field="name")
    if session.scalar(select(PolicyRow.policy_id).where(PolicyRow.name == data.name)):
        raise AlreadyExists(
            f"a model policy is named {data.name!r}: aliases name one thing", field="name"
        )
    row = DeploymentRow(
        deployment_id=uuid.uuid4(),
        name=data.name,
        provider=data.provider,
        model=data.model,
        capabilities=Capabilities().model_dump(),
        tags=[],
        timeout_seconds=DEFAULT_TIMEOUT_SECONDS,
        is_enabled=True,
    )
    _apply_fields(row, data.model_dump(exclude_unset=True, exclude={"name", "provider", "api_key"}))
    if data.api_key is not None:
        row.api_key_sealed = sealer.seal(data.api_key, seal_context(row.deployment_id))
    session.add(row)
    session.flush()
    _record(session, "created", actor, "model_deployment", row.deployment_id, name=row.name)
    return _deployment(row)


def list_deployments(session: Session) -> list[Deployment]:
    """Every deployment of the tenant, the offline model first."""
    rows = session.scalars(select(DeploymentRow).order_by(DeploymentRow.name))
    return [offline_deployment(), *(_deployment(row) for row in rows)]


def get_deployment(session: Session, name: str) -> Deployment:
    """One deployment by name (`offline` is the built-in one), or `NotFound`."""
    if name == OFFLINE:
        return offline_deployment()
    return _deployment(_deployment_row(session, name))


def update_deployment(
    session: Session, name: str, data: DeploymentUpdate, *, actor: Actor, sealer: Sealer
) -> Deployment:
    """Change a deployment; a new key is sealed, `clear_api_key` removes the stored one."""
    if name == OFFLINE:
        raise InvalidInput("the offline model cannot be changed", field="name")
    row = _deployment_row(session, name)
    changes = data.model_dump(exclude_unset=True, exclude={"api_key", "clear_api_key"})
    _apply_fields(row, changes)
    if row.provider == Provider.OPENAI_COMPATIBLE and not row.base_url:
        raise InvalidInput("an openai-compatible deployment needs a base_url", field="base_url")
    if data.clear_api_key:
        row.api_key_sealed = None
    if data.api_key is not None:
        row.api_key_sealed = sealer.seal(data.api_key, seal_context(row.deployment_id))
    session.flush()
    changed = sorted({*changes, *(["api_key"] if data.api_key or data.clear_api_key else [])})
    _record(
        session, "updated", actor, "model_deployment", row.deployment_id, name=name, changed=changed
    )
    return _deployment(row)


def delete_deployment(session: Session, name: str, *, actor: Actor) -> None:
    """Remove a deployment (policies naming it skip it from now on)."""
    if name == OFFLINE:
        raise InvalidInput("the offline model cannot be deleted", field="name")
    row = _deployment_row(session, name)
    _record(session, "deleted", actor, "model_deployment", row.deployment_id, name=name)
    session.delete(row)
    session.flush()


# -- policies ------------------------------------------------------------------------------


def _policy(row: PolicyRow) -> Policy:
    return Policy.model_validate(row)


def _policy_row(session: Session, name: str) -> PolicyRow:
    row = session.scalar(select(PolicyRow).where(PolicyRow.name == name))
    if row is None:
        raise NotFound("model policy", name)
    return row


def _check_deployments(session: Session, names: list[str]) -> list[str]:
    known = set(session.scalars(select(DeploymentRow.name).where(DeploymentRow.name.in_(names))))
    missing = [n for n in names if n not in known and n != OFFLINE]
    if missing:
        raise InvalidInput(
            f"unknown deployment(s): {', '.join(missing)}", field="deployments", missing=missing
        )
    return list(dict.fromkeys(names))


def create_policy(session: Session, data: PolicyCreate, *, actor: Actor) -> Policy:
    """Add a routing policy over existing deployments."""
    if session.scalar(select(PolicyRow.policy_id).where(PolicyRow.name == data.name)):
        raise AlreadyExists(f"a model policy named {data.name!r} exists", field="name")
    if data.name == OFFLINE or session.scalar(
        select(DeploymentRow.deployment_id).where(DeploymentRow.name == data.name)
    ):
        raise AlreadyExists(
            f"a model deployment is named {data.name!r}: aliases name one thing", field="name"
        )
    row = PolicyRow(
        name=data.name,
        deployments=_check_deployments(session, data.deployments),
        strategy=(data.strategy or Strategy.ORDER).value,
        required_capabilities=[c.value for c in data.required_capabilities or []],
        retries=1 if data.retries is None else data.retries,
        cache_ttl_seconds=data.cache_ttl_seconds,
        description=data.description or "",
    )
    session.add(row)
    session.flush()
    _record(session, "created", actor, "model_policy", row.policy_id, name=row.name)
    return _policy(row)


def list_policies(session: Session) -> list[Policy]:
    """The tenant's policies, then the built-in defaults it has not replaced."""
    rows = list(session.scalars(select(PolicyRow).order_by(PolicyRow.name)))
    own = {row.name for row in rows}
    catalog = load_catalog(session, sealer=None)
    builtins = [
        _builtin_policy_schema(builtin_policy(name, catalog))
        for name in BUILTIN_POLICIES
        if name not in own
    ]
    return [*(_policy(row) for row in rows), *builtins]


def _builtin_policy_schema(spec: PolicySpec) -> Policy:
    return Policy(
        policy_id=None,
        name=spec.name,
        deployments=list(spec.deployments),
        strategy=spec.strategy,
        required_capabilities=[],
        retries=spec.retries,
        cache_ttl_seconds=None,
        description=f"Built in: deployments tagged `{spec.name}`, else the offline model.",
        is_builtin=True,
    )


def get_policy(session: Session, name: str) -> Policy:
    """One policy by name (a built-in default if the tenant has none of that name)."""
    row = session.scalar(select(PolicyRow).where(PolicyRow.name == name))
    if row is not None:
        return _policy(row)
    if name in BUILTIN_POLICIES:
        return _builtin_policy_schema(builtin_policy(name, load_catalog(session, sealer=None)))
    raise NotFound("model policy", name)


def update_policy(session: Session, name: str, data: PolicyUpdate, *, actor: Actor) -> Policy:
    """Change a policy."""
    row = _policy_row(session, name)
    changes = data.model_dump(exclude_unset=True)
    if data.deployments is not None:
        row.deployments = _check_deployments(session, data.deployments)
    if data.strategy is not None:
        row.strategy = data.strategy.value
    if data.required_capabilities is not None:
        row.required_capabilities = [c.value for c in data.required_capabilities]
    if data.retries is not None:
        row.retries = data.retries
    if "cache_ttl_seconds" in changes:
        row.cache_ttl_seconds = data.cache_ttl_seconds
    if data.description is not None:
        row.description = data.description
    session.flush()
    _record(
        session, "updated", actor, "model_policy", row.policy_id, name=name, changed=sorted(changes)
    )
    return _policy(row)


def delete_policy(session: Session, name: str, *, actor: Actor) -> None:
    """Remove a policy (a built-in default of that name takes its place)."""
    row = _policy_row(session, name)
    _record(session, "deleted", actor, "model_policy", row.policy_id, name=name)
    session.delete(row)
    session.flush()


# -- what the gateway routes with ------------------------------------------------------------


def _spec(row: DeploymentRow, sealer: Sealer | None) -> DeploymentSpec:
    capabilities = Capabilities.model_validate(row.capabilities)
    prices = effective_prices(row.provider, row.model, row.base_url, _prices(row))
    api_key = None
    if sealer is not None and row.api_key_sealed is not None:
        api_key = sealer.open(row.api_key_sealed, seal_context(row.deployment_id))
    return DeploymentSpec(
        deployment_id=row.deployment_id,
        name=row.name,
        provider=Provider(row.provider),
        model=row.model,
        base_url=row.base_url,
        api_key=api_key,
        capabilities=capabilities.names(),
        context_window=capabilities.context_window,
        input_per_mtok=prices.input_per_mtok,
        output_per_mtok=prices.output_per_mtok,
        tags=tuple(row.tags),
        requests_per_minute=row.requests_per_minute,
        tokens_per_minute=row.tokens_per_minute,
        timeout_seconds=row.timeout_seconds,
        is_enabled=row.is_enabled,
        version=row.updated_at.isoformat(),
    )


def load_catalog(session: Session, *, sealer: Sealer | None) -> Catalog:
    """The tenant's deployments (keys opened if a sealer is given), policies and budgets."""
    deployments = {
        row.name: _spec(row, sealer)
        for row in session.scalars(select(DeploymentRow).order_by(DeploymentRow.name))
    }
    policies = {
        row.name: PolicySpec(
            name=row.name,
            deployments=tuple(row.deployments),
            strategy=Strategy(row.strategy),
            required_capabilities=frozenset(row.required_capabilities),
            retries=row.retries,
            cache_ttl_seconds=row.cache_ttl_seconds,
        )
        for row in session.scalars(select(PolicyRow))
    }
    budgets = tuple(
        (row.budget_id, row.scope, row.scope_id, row.period)
        for row in session.execute(
            select(BudgetRow.budget_id, BudgetRow.scope, BudgetRow.scope_id, BudgetRow.period)
        )
    )
    return Catalog(deployments=deployments, policies=policies, budgets=budgets)
