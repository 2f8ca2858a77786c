"""Routing policy, pure: which deployments a call may use, in which order. No I/O.

A policy names deployments in fallback order; the strategy may reorder them by price or by
observed latency. Deployments that are disabled, lack a capability the call needs or are too
small for its context are dropped; what remains is tried first to last.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from missionctl.models.schemas import Strategy


@dataclass(frozen=True, slots=True)
class Candidate:
    """What routing needs to know of one deployment."""

    name: str
    capabilities: frozenset[str]
    context_window: int | None = None
    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    latency_ms: float | None = None
    is_enabled: bool = True

    @property
    def blended_price(self) -> float | None:
        """Input plus output price per 1M tokens, if both are known."""
        if self.input_per_mtok is None or self.output_per_mtok is None:
            return None
        return self.input_per_mtok + self.output_per_mtok


def qualifies(candidate: Candidate, required: Iterable[str], context_tokens: int) -> bool:
    """Whether the deployment can take a call needing `required` and `context_tokens`."""
    if not candidate.is_enabled or not set(required) <= candidate.capabilities:
        return False
    return candidate.context_window is None or context_tokens <= candidate.context_window


def rank(
    candidates: Sequence[Candidate],
    strategy: Strategy,
    required: Iterable[str] = (),
    context_tokens: int = 0,
) -> list[Candidate]:
    """The qualifying deployments in the order a call tries them (ties keep policy order)."""
    needed = frozenset(required)
    kept = [c for c in candidates if qualifies(c, needed, context_tokens)]
    if strategy is Strategy.COST:
        return sorted(kept, key=lambda c: _unknown_last(c.blended_price))
    if strategy is Strategy.LATENCY:
        return sorted(kept, key=lambda c: _unknown_last(c.latency_ms))
    return kept


def _unknown_last(value: float | None) -> tuple[bool, float]:
    return (value is None, value or 0.0)
