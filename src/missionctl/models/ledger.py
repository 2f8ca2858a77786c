"""Budget holds and charges, and per-deployment rate windows: the model layer's hot writes.

Core statements on one connection (no ORM) because they run around every model call. Before a
call, `hold` locks the ledger rows of the budgets that apply (PostgreSQL `FOR UPDATE`; SQLite's
`BEGIN IMMEDIATE` already serialises writers), checks that spent + held + this estimate fits,
and inserts a hold; after it, `settle` replaces the hold with the actual charge. So however many
calls run at once, spend can pass a limit only by what actual usage exceeds the estimates in
flight. Holds expire: a process killed mid-call cannot shrink a budget for good.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Connection, Table, and_, delete, func, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from missionctl.db import new_id
from missionctl.models.accounting import Standing, fits, period_key
from missionctl.models.models import BudgetHoldRow, BudgetLedgerRow, BudgetRow, RateWindowRow

HOLD_SECONDS = 3600.0  # longer than any call may take; a dead process's hold lapses after it

_ledger = cast(Table, BudgetLedgerRow.__table__)
_holds = cast(Table, BudgetHoldRow.__table__)
_budgets = cast(Table, BudgetRow.__table__)
_windows = cast(Table, RateWindowRow.__table__)


@dataclass(frozen=True, slots=True)
class BudgetKey:
    """One budget in its current period."""

    budget_id: uuid.UUID
    period_key: str


@dataclass(frozen=True, slots=True)
class HoldResult:
    """Holds taken, or the budget that had no room."""

    hold_ids: tuple[uuid.UUID, ...] = ()
    refused: BudgetKey | None = None


def _insert_ignore(conn: Connection):  # type: ignore[no-untyped-def]
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert


def _ensure_ledger(conn: Connection, tenant_id: uuid.UUID, keys: Sequence[BudgetKey]) -> None:
    stmt = _insert_ignore(conn)(_ledger).on_conflict_do_nothing()
    conn.execute(
        stmt,
        [
            {
                "tenant_id": tenant_id,
                "budget_id": k.budget_id,
                "period_key": k.period_key,
                "spent_nanos": 0,
                "spent_tokens": 0,
            }
            for k in keys
        ],
    )


def standings(
    conn: Connection, keys: Sequence[BudgetKey], now: datetime, *, lock: bool = False
) -> dict[uuid.UUID, Standing]:
    """Limits, spend and live holds of budgets in their periods (locked for update if asked)."""
    pairs = [(k.budget_id, k.period_key) for k in keys]
    query = (
        select(
            _ledger.c.budget_id,
            _budgets.c.limit_nanos,
            _budgets.c.limit_tokens,
            _ledger.c.spent_nanos,
            _ledger.c.spent_tokens,
        )
        .join(_budgets, _budgets.c.budget_id == _ledger.c.budget_id)
        .where(tuple_(_ledger.c.budget_id, _ledger.c.period_key).in_(pairs))
        .order_by(_ledger.c.budget_id)
    )
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update(of=_ledger)
    # The ledger rows first: once they are locked, the holds read next include every hold
    # committed by whoever held the lock before (READ COMMITTED: each statement sees the latest).
    ledger_rows = conn.execute(query).all()
    held = dict.fromkeys([k.budget_id for k in keys], (0, 0))
    for budget_id, nanos, tokens in conn.execute(
        select(_holds.c.budget_id, func.sum(_holds.c.nanos), func.sum(_holds.c.tokens))
        .where(
            tuple_(_holds.c.budget_id, _holds.c.period_key).in_(pairs),
            _holds.c.expires_at > now,
        )
        .group_by(_holds.c.budget_id)
    ):
        held[budget_id] = (int(nanos or 0), int(tokens or 0))
    return {
        row.budget_id: Standing(
            row.limit_nanos,
            row.limit_tokens,
            row.spent_nanos,
            row.spent_tokens,
            *held[row.budget_id],
        )
        for row in ledger_rows
    }


def hold(
    conn: Connection,
    tenant_id: uuid.UUID,
    keys: Sequence[BudgetKey],
    nanos: int,
    tokens: int,
    now: datetime,
) -> HoldResult:
    """Hold an estimate against every budget, or name the first that has no room."""
    if not keys:
        return HoldResult()
    _ensure_ledger(conn, tenant_id, keys)
    found = standings(conn, keys, now, lock=True)
    for key in keys:
        standing = found.get(key.budget_id)
        if standing is not None and not fits(standing, nanos, tokens):
            return HoldResult(refused=key)
    expires_at = now + timedelta(seconds=HOLD_SECONDS)
    rows = [
        {
            "hold_id": new_id(),
            "tenant_id": tenant_id,
            "budget_id": k.budget_id,
            "period_key": k.period_key,
            "nanos": nanos,
            "tokens": tokens,
            "expires_at": expires_at,
        }
        for k in keys
        if k.budget_id in found
    ]
    conn.execute(insert(_holds), rows)
    return HoldResult(hold_ids=tuple(cast(uuid.UUID, r["hold_id"]) for r in rows))


def settle(
    conn: Connection,
    tenant_id: uuid.UUID,
    keys: Sequence[BudgetKey],
    hold_ids: Sequence[uuid.UUID],
    nanos: int,
    tokens: int,
) -> None:
    """Drop a call's holds and charge what it actually used to its budgets."""
    if hold_ids:
        conn.execute(delete(_holds).where(_holds.c.hold_id.in_(hold_ids)))
    if not keys or (nanos == 0 and tokens == 0):
        return
    _ensure_ledger(conn, tenant_id, keys)
    for key in keys:
        conn.execute(
            update(_ledger)
            .where(_ledger.c.budget_id == key.budget_id, _ledger.c.period_key == key.period_key)
            .values(
                spent_nanos=_ledger.c.spent_nanos + nanos,
                spent_tokens=_ledger.c.spent_tokens + tokens,
            )
        )


def mark_exhausted(conn: Connection, key: BudgetKey, now: datetime) -> bool:
    """Note that a budget refused a call this period; True only the first time."""
    result = conn.execute(
        update(_ledger)
        .where(
            _ledger.c.budget_id == key.budget_id,
            _ledger.c.period_key == key.period_key,
            _ledger.c.exhausted_at.is_(None),
        )
        .values(exhausted_at=now)
    )
    return result.rowcount == 1


def reopen(conn: Connection, budget_id: uuid.UUID, period: str, now: datetime) -> None:
    """Clear a budget's exhaustion in its current period (its limit was raised)."""
    conn.execute(
        update(_ledger)
        .where(_ledger.c.budget_id == budget_id, _ledger.c.period_key == period_key(period, now))
        .values(exhausted_at=None)
    )


def purge_expired_holds(conn: Connection, now: datetime) -> int:
    """Delete holds of calls that never settled (their process died)."""
    return conn.execute(delete(_holds).where(_holds.c.expires_at <= now)).rowcount


def take_rate(
    conn: Connection,
    tenant_id: uuid.UUID,
    deployment_id: uuid.UUID,
    window: int,
    tokens: int,
    requests_per_minute: int | None,
    tokens_per_minute: int | None,
) -> bool:
    """Count a request (and its estimated tokens) in the minute, if the limits allow it."""
    stmt = _insert_ignore(conn)(_windows).on_conflict_do_nothing()
    conn.execute(
        stmt,
        {
            "tenant_id": tenant_id,
            "deployment_id": deployment_id,
            "window": window,
            "requests": 0,
            "tokens": 0,
        },
    )
    conditions = [_windows.c.deployment_id == deployment_id, _windows.c.window == window]
    if requests_per_minute is not None:
        conditions.append(_windows.c.requests < requests_per_minute)
    if tokens_per_minute is not None:
        conditions.append(_windows.c.tokens + tokens <= tokens_per_minute)
    result = conn.execute(
        update(_windows)
        .where(and_(*conditions))
        .values(requests=_windows.c.requests + 1, tokens=_windows.c.tokens + tokens)
    )
    return result.rowcount == 1


def correct_rate(conn: Connection, deployment_id: uuid.UUID, window: int, delta: int) -> None:
    """Replace a request's estimated tokens in its window by the actual count."""
    if delta:
        conn.execute(
            update(_windows)
            .where(_windows.c.deployment_id == deployment_id, _windows.c.window == window)
            .values(tokens=_windows.c.tokens + delta)
        )


def purge_old_windows(conn: Connection, before_window: int) -> int:
    """Delete rate windows older than `before_window` (they no longer count)."""
    return conn.execute(delete(_windows).where(_windows.c.window < before_window)).rowcount
