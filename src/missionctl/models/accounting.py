"""Budget arithmetic, pure: periods, estimates, costs and whether a call fits. No I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from missionctl.models.schemas import NANOS_PER_USD, BudgetPeriod

TOKENS_PER_MTOK = 1_000_000


def period_key(period: BudgetPeriod | str, now: datetime) -> str:
    """The ledger key of the period `now` (UTC) falls in."""
    if period == BudgetPeriod.DAILY:
        return now.strftime("%Y-%m-%d")
    if period == BudgetPeriod.MONTHLY:
        return now.strftime("%Y-%m")
    return "total"


def cost_nanos(
    input_tokens: int, output_tokens: int, input_per_mtok: float, output_per_mtok: float
) -> int:
    """The cost of a request in nano-dollars, rounded up (a budget never under-charges)."""
    usd_times_mtok = input_tokens * input_per_mtok + output_tokens * output_per_mtok
    return math.ceil(usd_times_mtok * NANOS_PER_USD / TOKENS_PER_MTOK - 1e-9)


def usd_to_nanos(usd: float | None) -> int | None:
    """USD as nano-dollars."""
    return None if usd is None else round(usd * NANOS_PER_USD)


def nanos_to_usd(nanos: int | None) -> float | None:
    """Nano-dollars as USD."""
    return None if nanos is None else nanos / NANOS_PER_USD


@dataclass(frozen=True, slots=True)
class Standing:
    """A budget's limits and what is spent and held in its current period."""

    limit_nanos: int | None
    limit_tokens: int | None
    spent_nanos: int
    spent_tokens: int
    held_nanos: int
    held_tokens: int


def fits(standing: Standing, nanos: int, tokens: int) -> bool:
    """Whether a call estimated at `nanos` and `tokens` fits in what is left.

    A budget already at its limit takes nothing more, not even a call estimated at zero.
    """
    if standing.limit_nanos is not None:
        used = standing.spent_nanos + standing.held_nanos
        if used >= standing.limit_nanos or used + nanos > standing.limit_nanos:
            return False
    if standing.limit_tokens is not None:
        used_tokens = standing.spent_tokens + standing.held_tokens
        if used_tokens >= standing.limit_tokens or used_tokens + tokens > standing.limit_tokens:
            return False
    return True
