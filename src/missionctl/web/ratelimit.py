"""Rate limits per principal and route class, with `RateLimit-*` and `Retry-After` headers.

Fixed one-minute windows: simple, cheap, and enough to stop a runaway script or a password
guesser. Counters live in the process by default; with `MISSIONCTL_REDIS_URL` they live in
Redis and are shared by every API process (Redis is a convenience here, never the source of
truth: if it is down, requests are let through and a warning is logged).
"""

from __future__ import annotations

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
    """Counts hits of a key in the current window."""

    def hit(self, key: str, window: int) -> int:
        """Add one hit to `key` in `window`; return the window's count so far."""
        ...


class InProcessCounter:
    """Counters in this process's memory (one API process, or limits per process)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window: int) -> int:
        """Count a hit; forget windows that are over."""
        with self._lock:
            if len(self._counts) > 10_000:
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
            return count


class RedisCounter:
    """Counters in Redis, shared by every process: INCR and EXPIRE in one round trip."""

    def __init__(self, url: str) -> None:
        import redis  # only needed when configured

        self._client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def hit(self, key: str, window: int) -> int:
        """Count a hit in Redis; 0 (let through) if Redis does not answer."""
        name = f"missionctl:rl:{key}:{window}"
        try:
            pipe = self._client.pipeline()
            pipe.incr(name)
            pipe.expire(name, WINDOW_SECONDS * 2)
            count, _ = pipe.execute()
            return int(count)
        except Exception as exc:  # Redis is optional: never fail a request because of it
            log.warning("rate_limit_backend_unavailable", error=str(exc).splitlines()[0])
            return 0


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
        count = self.counter.hit(f"{route_class}:{who}", window)
        reset = max(1, int((window + 1) * WINDOW_SECONDS - now))
        return Verdict(
            allowed=count <= limit,
            limit=limit,
            remaining=max(0, limit - count),
            reset_seconds=reset,
        )
