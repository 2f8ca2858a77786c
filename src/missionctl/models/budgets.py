"""Budget use cases: set, change and remove hard budgets, and show what each has spent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from missionctl.common import Actor
from missionctl.errors import InvalidInput, NotFound
from missionctl.models import ledger
from missionctl.models.accounting import Standing, nanos_to_usd, period_key, usd_to_nanos
from missionctl.models.ledger import BudgetKey
from missionctl.models.models import BudgetLedgerRow, BudgetRow
from missionctl.models.schemas import Budget, BudgetCreate, BudgetPeriod, BudgetScope, BudgetUpdate
from missionctl.models.service import record_change


def _record(session: Session, action: str, actor: Actor, row: BudgetRow) -> None:
    target = row.scope if row.scope_id is None else f"{row.scope} {row.scope_id}"
    record_change(
        session,
        f"budget.{action}",
        actor,
        "budget",
        row.budget_id,
        f"Budget for {target} {action}",
        scope=row.scope,
        scope_id=row.scope_id,
        period=row.period,
        limit_usd=nanos_to_usd(row.limit_nanos),
        limit_tokens=row.limit_tokens,
    )


def _budget(session: Session, row: BudgetRow, now: datetime) -> Budget:
    key = BudgetKey(row.budget_id, period_key(row.period, now))
    standing = ledger.standings(session.connection(), [key]).get(row.budget_id) or Standing(
        row.limit_nanos, row.limit_tokens, 0, 0, 0, 0
    )
    exhausted_at = session.scalar(
        select(BudgetLedgerRow.exhausted_at).where(
            BudgetLedgerRow.budget_id == row.budget_id,
            BudgetLedgerRow.period_key == key.period_key,
        )
    )
    return Budget(
        budget_id=row.budget_id,
        scope=BudgetScope(row.scope),
        scope_id=row.scope_id,
        period=BudgetPeriod(row.period),
        period_key=key.period_key,
        limit_usd=nanos_to_usd(row.limit_nanos),
        limit_tokens=row.limit_tokens,
        spent_usd=nanos_to_usd(standing.spent_nanos) or 0.0,
        spent_tokens=standing.spent_tokens,
        held_usd=nanos_to_usd(standing.held_nanos) or 0.0,
        held_tokens=standing.held_tokens,
        is_exhausted=exhausted_at is not None,
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _row(session: Session, budget_id: uuid.UUID) -> BudgetRow:
    row = session.scalar(select(BudgetRow).where(BudgetRow.budget_id == budget_id))
    if row is None:
        raise NotFound("budget", budget_id)
    return row


def create_budget(session: Session, data: BudgetCreate, *, actor: Actor) -> Budget:
    """Set a hard budget; model calls in its scope are refused once it is spent."""
    row = BudgetRow(
        budget_id=uuid.uuid4(),
        scope=data.scope.value,
        scope_id=data.scope_id,
        period=data.period.value,
        limit_nanos=usd_to_nanos(data.limit_usd),
        limit_tokens=data.limit_tokens,
        description=data.description,
    )
    session.add(row)
    session.flush()
    _record(session, "created", actor, row)
    return _budget(session, row, datetime.now(UTC))


def list_budgets(session: Session, scope: BudgetScope | None = None) -> list[Budget]:
    """Every budget of the tenant (or of one scope) with its current spend."""
    query = select(BudgetRow).order_by(BudgetRow.scope, BudgetRow.scope_id, BudgetRow.created_at)
    if scope is not None:
        query = query.where(BudgetRow.scope == scope.value)
    now = datetime.now(UTC)
    return [_budget(session, row, now) for row in session.scalars(query)]


def get_budget(session: Session, budget_id: uuid.UUID) -> Budget:
    """One budget with its current spend, or `NotFound`."""
    return _budget(session, _row(session, budget_id), datetime.now(UTC))


def update_budget(
    session: Session, budget_id: uuid.UUID, data: BudgetUpdate, *, actor: Actor
) -> Budget:
    """Change a budget's limits; calls it refused may run again if there is room now."""
    row = _row(session, budget_id)
    changes = data.model_dump(exclude_unset=True)
    if "limit_usd" in changes:
        row.limit_nanos = usd_to_nanos(data.limit_usd)
    if "limit_tokens" in changes:
        row.limit_tokens = data.limit_tokens
    if row.limit_nanos is None and row.limit_tokens is None:
        raise InvalidInput("a budget needs limit_usd, limit_tokens or both", field="limit_usd")
    if data.description is not None:
        row.description = data.description
    session.flush()
    now = datetime.now(UTC)
    ledger.reopen(session.connection(), row.budget_id, row.period, now)
    _record(session, "updated", actor, row)
    return _budget(session, row, now)


def delete_budget(session: Session, budget_id: uuid.UUID, *, actor: Actor) -> None:
    """Remove a budget and its ledger."""
    row = _row(session, budget_id)
    _record(session, "deleted", actor, row)
    session.delete(row)
    session.flush()
