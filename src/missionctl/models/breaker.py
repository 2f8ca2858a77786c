"""Deployment health, pure: circuit breakers, Retry-After cool-downs and latency. No I/O.

Each process keeps its own (a breaker is a local judgement of "this deployment keeps failing";
sharing it would add a database write to every failure for little gain). A breaker opens after
`failures_to_open` failures in a row, stays open `cooldown_seconds`, then lets one probe through
(half-open): success closes it, failure opens it again. A 429's Retry-After blocks the deployment
until then without counting as a failure. Times are the caller's monotonic clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

LATENCY_WEIGHT = 0.2  # exponentially weighted: the newest request counts a fifth


class BreakerState(StrEnum):
    """Where a deployment's breaker is."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class Breaker:
    """One deployment's breaker, cool-down and latency estimate."""

    failures_to_open: int = 5
    cooldown_seconds: float = 30.0
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    is_probing: bool = False
    blocked_until: float = 0.0
    latency_ms: float | None = None

    def allow(self, now: float) -> bool:
        """Whether a request may go to this deployment now (takes the probe when half-open)."""
        if now < self.blocked_until:
            return False
        if self.state is BreakerState.OPEN:
            if now - self.opened_at < self.cooldown_seconds:
                return False
            self.state = BreakerState.HALF_OPEN
        if self.state is BreakerState.HALF_OPEN:
            if self.is_probing:
                return False
            self.is_probing = True
        return True

    def succeeded(self, latency_ms: float) -> None:
        """A request answered: close the breaker and learn its latency."""
        self.state, self.failures, self.is_probing = BreakerState.CLOSED, 0, False
        if self.latency_ms is None:
            self.latency_ms = latency_ms
        else:
            self.latency_ms += LATENCY_WEIGHT * (latency_ms - self.latency_ms)

    def failed(self, now: float) -> None:
        """A request failed (error, timeout): count it; open at the threshold or on a probe."""
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.failures_to_open:
            self.state, self.opened_at = BreakerState.OPEN, now
        self.is_probing = False

    def rate_limited(self, now: float, retry_after: float) -> None:
        """The provider said 429: keep away until `retry_after` seconds have passed."""
        self.blocked_until = max(self.blocked_until, now + retry_after)
        self.is_probing = False

    def available_at(self, now: float) -> float:
        """The earliest time this deployment takes requests again."""
        if self.state is BreakerState.OPEN:
            return max(self.blocked_until, self.opened_at + self.cooldown_seconds)
        return max(self.blocked_until, now)


@dataclass
class Health:
    """The breakers of every deployment this process has called, by deployment key."""

    failures_to_open: int = 5
    cooldown_seconds: float = 30.0
    breakers: dict[str, Breaker] = field(default_factory=dict)

    def of(self, key: str) -> Breaker:
        """The breaker of a deployment (a closed one the first time)."""
        breaker = self.breakers.get(key)
        if breaker is None:
            breaker = self.breakers[key] = Breaker(self.failures_to_open, self.cooldown_seconds)
        return breaker
