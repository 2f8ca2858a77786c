"""Rate limits per principal and route class, with `RateLimit-*` and `Retry-After` headers.

One-minute sliding windows, approximated from two fixed windows (the previous window's count
weighted by how much of it still overlaps the last minute, plus the current count): as cheap as
fixed windows, without letting a client spend twice its limit across a window boundary.
Counters live in the process by default; with `MISSIONCTL_REDIS_URL` they live in Redis and
are shared by every API process (Redis is a convenience here, never the source of truth: if it
is down, requests are let through and a warning is logged).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import structlog

log = structlog.get_logger("missionctl.ratelimit")
WINDOW_SECONDS = 60


class RouteClass(StrEnum):
    """Buckets with their own limits."""

    AUTH = "auth"  # sign-in and refresh, per client address
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class Verdict:
    """The outcome of counting one request."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        """The RateLimit-* headers (and Retry-After when refused)."""
        headers = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_seconds).encode()),
        ]
        if not self.allowed:
            headers.append((b"retry-after", str(self.reset_seconds).encode()))
        return headers


class Counter(Protocol):
    """Counts hits of a key per fixed window."""

    def hit(self, key: str, window: int) -> tuple[int, int]:
        """Add one hit to `key` in `window`; return (this window's count, the previous one's)."""
        ...


class InProcessCounter:
    """Counters in this process's memory (one API process, or limits per process)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window: int) -> tuple[int, int]:
        """Count a hit; forget windows that no longer matter."""
        with self._lock:
            if len(self._counts) > 10_000:
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window - 1}
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
            return count, self._counts.get((key, window - 1), 0)


class RedisCounter:
    """Counters in Redis, shared by every process: INCR and EXPIRE in one round trip."""

    def __init__(self, url: str) -> None:
        import redis  # only needed when configured

        self._client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def hit(self, key: str, window: int) -> tuple[int, int]:
        """Count a hit in Redis; (0, 0) (let through) if Redis does not answer."""
        name = f"missionctl:rl:{key}:{window}"
        try:
            pipe = self._client.pipeline()
            pipe.incr(name)
            pipe.expire(name, WINDOW_SECONDS * 2)
            pipe.get(f"missionctl:rl:{key}:{window - 1}")
            count, _, previous = pipe.execute()
            return int(count), int(previous or 0)
        except Exception as exc:  # Redis is optional: never fail a request because of it
            log.warning("rate_limit_backend_unavailable", error=str(exc).splitlines()[0])
            return 0, 0


class RateLimiter:
    """Limits per route class and principal."""

    def __init__(self, counter: Counter, limits: dict[RouteClass, int]) -> None:
        self.counter = counter
        self.limits = limits

    def check(self, route_class: RouteClass, who: str, now: float | None = None) -> Verdict:
        """Count this request for `who` and say whether it may go ahead."""
        now = time.time() if now is None else now
        window = int(now // WINDOW_SECONDS)
        limit = self.limits[route_class]
        current, previous = self.counter.hit(f"{route_class}:{who}", window)
        into = now - window * WINDOW_SECONDS
        used = previous * (1 - into / WINDOW_SECONDS) + current
        allowed = used <= limit
        if allowed:
            reset = WINDOW_SECONDS - into
        else:
            reset = seconds_until_allowed(limit, current, previous, into)
        return Verdict(
            allowed=allowed,
            limit=limit,
            remaining=max(0, int(limit - used)),
            reset_seconds=max(1, math.ceil(reset)),
        )


def seconds_until_allowed(limit: int, current: int, previous: int, into: float) -> float:
    """How long until one more request fits the sliding window, if no other request comes.

    Within this window the previous window's weight must fall far enough; failing that, in the
    next window this window's weight must.
    """
    room = limit - current - 1
    if room >= 0 and previous > 0:
        return (1 - room / previous) * WINDOW_SECONDS - into
    needed = 1 - (limit - 1) / current if current else 0.0
    return WINDOW_SECONDS - into + max(0.0, needed) * WINDOW_SECONDS
