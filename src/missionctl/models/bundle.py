"""The model catalog as a YAML (or JSON) file: deployments, policies and budgets, applied at once.

`apply_bundle` makes the tenant match the file for what the file names — deployments and
policies by name, budgets by (scope, scope_id, period) — and leaves everything else alone, so
applying the same file twice changes nothing. Keys may be written in the file or left out and
set later by API or CLI (a deployment that exists keeps its key when the file has none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from missionctl.common import Actor, Schema
from missionctl.errors import InvalidInput
from missionctl.models import budgets, service
from missionctl.models.accounting import usd_to_nanos
from missionctl.models.models import BudgetRow, DeploymentRow, PolicyRow
from missionctl.models.schemas import (
    BudgetCreate,
    BudgetUpdate,
    DeploymentCreate,
    DeploymentUpdate,
    PolicyCreate,
    PolicyUpdate,
)
from missionctl.sealing import Sealer


class Bundle(Schema):
    """A catalog file."""

    deployments: list[DeploymentCreate] = Field(default_factory=list, description="Deployments.")
    policies: list[PolicyCreate] = Field(default_factory=list, description="Routing policies.")
    budgets: list[BudgetCreate] = Field(default_factory=list, description="Hard budgets.")


@dataclass
class Applied:
    """What applying a bundle did, by kind: names created, changed and left as they were."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def parse_bundle(text: str) -> Bundle:
    """A bundle from YAML or JSON text, or `InvalidInput` naming the first bad field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise InvalidInput(f"the catalog file is not valid YAML{where}: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidInput("the catalog file must be a mapping with deployments, policies, budgets")
    try:
        return Bundle.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}", field=where) from None


def apply_bundle(session: Session, bundle: Bundle, *, actor: Actor, sealer: Sealer) -> Applied:
    """Create or change what the bundle names; deployments first, then policies, budgets."""
    applied = Applied()
    for deployment in bundle.deployments:
        _apply_deployment(session, deployment, actor, sealer, applied)
    for policy in bundle.policies:
        _apply_policy(session, policy, actor, applied)
    for budget in bundle.budgets:
        _apply_budget(session, budget, actor, applied)
    return applied


def _apply_deployment(
    session: Session, data: DeploymentCreate, actor: Actor, sealer: Sealer, applied: Applied
) -> None:
    label = f"deployment {data.name}"
    row = session.scalar(select(DeploymentRow).where(DeploymentRow.name == data.name))
    if row is None:
        service.create_deployment(session, data, actor=actor, sealer=sealer)
        applied.created.append(label)
        return
    if row.provider != data.provider:
        raise InvalidInput(
            f"deployment {data.name} is {row.provider}; the file says {data.provider} "
            "(delete it first to change its provider)",
            field="provider",
        )
    before = service.get_deployment(session, data.name).model_dump(exclude={"updated_at"})
    changes = data.model_dump(exclude_unset=True, exclude={"name", "provider"})
    current_key = (
        sealer.open(row.api_key_sealed, service.seal_context(row.deployment_id))
        if row.api_key_sealed
        else None
    )
    is_new_key = data.api_key is not None and data.api_key != current_key
    if not is_new_key:
        changes.pop("api_key", None)
    service.update_deployment(
        session, data.name, DeploymentUpdate.model_validate(changes), actor=actor, sealer=sealer
    )
    after = service.get_deployment(session, data.name).model_dump(exclude={"updated_at"})
    (applied.updated if before != after or is_new_key else applied.unchanged).append(label)


def _apply_policy(session: Session, data: PolicyCreate, actor: Actor, applied: Applied) -> None:
    label = f"policy {data.name}"
    if session.scalar(select(PolicyRow.policy_id).where(PolicyRow.name == data.name)) is None:
        service.create_policy(session, data, actor=actor)
        applied.created.append(label)
        return
    before = service.get_policy(session, data.name)
    changes = data.model_dump(exclude_unset=True, exclude={"name"})
    after = service.update_policy(
        session, data.name, PolicyUpdate.model_validate(changes), actor=actor
    )
    (applied.updated if before != after else applied.unchanged).append(label)


def _apply_budget(session: Session, data: BudgetCreate, actor: Actor, applied: Applied) -> None:
    label = f"budget {data.scope}{f' {data.scope_id}' if data.scope_id else ''} {data.period}"
    row = session.scalar(
        select(BudgetRow).where(
            BudgetRow.scope == data.scope.value,
            BudgetRow.scope_id.is_(None)
            if data.scope_id is None
            else BudgetRow.scope_id == data.scope_id,
            BudgetRow.period == data.period.value,
        )
    )
    if row is None:
        budgets.create_budget(session, data, actor=actor)
        applied.created.append(label)
        return
    same = (
        row.limit_nanos == usd_to_nanos(data.limit_usd)
        and row.limit_tokens == data.limit_tokens
        and row.description == data.description
    )
    if same:
        applied.unchanged.append(label)
        return
    update = BudgetUpdate(
        limit_usd=data.limit_usd, limit_tokens=data.limit_tokens, description=data.description
    )
    budgets.update_budget(session, row.budget_id, update, actor=actor)
    applied.updated.append(label)


def export_bundle(session: Session) -> dict[str, Any]:
    """The tenant's catalog as a bundle (keys are never exported)."""
    deployments = [
        {
            "name": d.name,
            "provider": d.provider.value,
            "model": d.model,
            **({"base_url": d.base_url} if d.base_url else {}),
            "capabilities": d.capabilities.model_dump(exclude_none=True),
            **({"tags": d.tags} if d.tags else {}),
            **(
                {
                    "prices": {
                        "input_per_mtok": d.prices.input_per_mtok,
                        "output_per_mtok": d.prices.output_per_mtok,
                    }
                }
                if d.prices.source == "override"
                else {}
            ),
            "timeout_seconds": d.timeout_seconds,
        }
        for d in service.list_deployments(session)
        if not d.is_builtin
    ]
    policies = [
        p.model_dump(mode="json", exclude={"policy_id", "is_builtin"})
        for p in service.list_policies(session)
        if not p.is_builtin
    ]
    budget_rows = [
        {
            "scope": b.scope.value,
            **({"scope_id": b.scope_id} if b.scope_id else {}),
            "period": b.period.value,
            **({"limit_usd": b.limit_usd} if b.limit_usd is not None else {}),
            **({"limit_tokens": b.limit_tokens} if b.limit_tokens is not None else {}),
        }
        for b in budgets.list_budgets(session)
    ]
    return {"deployments": deployments, "policies": policies, "budgets": budget_rows}
