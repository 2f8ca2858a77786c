"""Rate limits: per principal and route class, with the standard headers; shared via Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from missionctl import migrations
from missionctl.db import Database, make_engine
from missionctl.permissions import Role
from missionctl.settings import load_settings
from missionctl.web.app import create_app
from missionctl.web.ratelimit import InProcessCounter, RateLimiter, RedisCounter, RouteClass
from tests.conftest import BACKENDS, Backend, ServerThread, fresh_database, make_user
from tests.factories import problem

REDIS_URL = os.environ.get("MISSIONCTL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=BACKENDS)
def limited(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Backend]]:
    """A server with tiny limits (3 reads, 2 writes, 2 sign-ins a minute) on a fresh database."""
    kind, extra = (request.param, {}) if isinstance(request.param, str) else request.param
    with fresh_database(kind, tmp_path) as url:
        settings = load_settings(
            data_dir=tmp_path,
            database_url=url,
            secret_key="y" * 48,
            rate_limit_read=3,
            rate_limit_write=2,
            rate_limit_auth=2,
            **extra,
        )
        db = Database(make_engine(settings.resolved_database_url))
        migrations.upgrade(db.engine)
        backend = Backend(name=kind, settings=settings, db=db)
        with ServerThread(create_app(settings, db)) as base:
            yield f"{base}/api/v1", backend
        db.dispose()


def test_reads_and_writes_have_their_own_limits(limited: tuple[str, Backend]) -> None:
    base, backend = limited
    _user, token = make_user(backend, Role.OPERATOR)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        first = client.get("/tasks")
        assert first.headers["ratelimit-limit"] == "3"
        assert first.headers["ratelimit-remaining"] == "2"
        assert 1 <= int(first.headers["ratelimit-reset"]) <= 60
        client.get("/tasks")  # the second read is cached: it still counts
        client.get("/tasks")
        refused = problem(client.get("/tasks"), 429, "rate_limited")
        assert refused["retry_after"] >= 1
        response = client.get("/agents")
        assert response.headers["retry-after"] == response.headers["ratelimit-reset"]
        assert response.headers["ratelimit-remaining"] == "0"
        # Writes draw from their own bucket.
        assert client.post("/tasks", json={"title": "a"}).status_code == 201
        assert client.post("/tasks", json={"title": "b"}).status_code == 201
        problem(client.post("/tasks", json={"title": "c"}), 429, "rate_limited")
    # Another principal has its own buckets.
    _other, other_token = make_user(backend, Role.VIEWER)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {other_token}"}) as other:
        assert other.get("/tasks").status_code == 200


def test_sign_in_attempts_are_limited_per_address(limited: tuple[str, Backend]) -> None:
    base, _backend = limited
    with httpx.Client(base_url=base) as client:
        body = {"email": "nobody@example.com", "password": "whatever it is"}
        for _ in range(2):
            problem(client.post("/auth/login", json=body), 401, "unauthenticated")
        problem(client.post("/auth/login", json=body), 429, "rate_limited")
        assert client.get("/health").status_code == 200  # health is never limited


@pytest.fixture
def redis_counter() -> RedisCounter:
    counter = RedisCounter(REDIS_URL)
    if counter.hit(f"probe-{uuid.uuid4()}", 0) == 0:
        pytest.fail(f"Redis does not answer at {REDIS_URL}")
    return counter


def test_redis_counters_are_shared_by_processes(redis_counter: RedisCounter) -> None:
    who = f"user:{uuid.uuid4()}"
    first = RateLimiter(redis_counter, {RouteClass.READ: 2})
    second = RateLimiter(RedisCounter(REDIS_URL), {RouteClass.READ: 2})
    now = 1_000_000.0
    assert first.check(RouteClass.READ, who, now).allowed
    assert second.check(RouteClass.READ, who, now).allowed
    refused = first.check(RouteClass.READ, who, now + 1)
    assert not refused.allowed and refused.remaining == 0
    assert second.check(RouteClass.READ, who, now + 61).allowed  # a new window


def test_a_missing_redis_lets_requests_through() -> None:
    limiter = RateLimiter(RedisCounter("redis://127.0.0.1:1/0"), {RouteClass.READ: 1})
    assert all(limiter.check(RouteClass.READ, "user:x").allowed for _ in range(3))


@pytest.mark.parametrize(
    "limited", [(kind, {"redis_url": REDIS_URL}) for kind in BACKENDS], indirect=True
)
def test_the_app_counts_in_redis_when_configured(
    limited: tuple[str, Backend], redis_counter: RedisCounter
) -> None:
    base, backend = limited
    _user, token = make_user(backend, Role.VIEWER)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(3):
            assert client.get("/agents").status_code == 200
        problem(client.get("/agents"), 429, "rate_limited")


def test_a_window_boundary_does_not_double_the_limit() -> None:
    limiter = RateLimiter(InProcessCounter(), {RouteClass.AUTH: 3})
    end_of_window = 60 * 1000 + 59.0
    for _ in range(3):
        assert limiter.check(RouteClass.AUTH, "10.0.0.1", end_of_window).allowed
    refused = limiter.check(RouteClass.AUTH, "10.0.0.1", end_of_window + 2)  # a new fixed window
    assert not refused.allowed
    # Retry-After is honest: refused just before it, allowed at it.
    wait = refused.reset_seconds
    assert 1 <= wait <= 60
    assert not limiter.check(RouteClass.AUTH, "10.0.0.1", end_of_window + 2 + wait - 2).allowed
    later = RateLimiter(InProcessCounter(), {RouteClass.AUTH: 3})
    for _ in range(3):
        later.check(RouteClass.AUTH, "10.0.0.1", end_of_window)
    later.check(RouteClass.AUTH, "10.0.0.1", end_of_window + 2)
    assert later.check(RouteClass.AUTH, "10.0.0.1", end_of_window + 2 + wait).allowed
    assert limiter.check(RouteClass.AUTH, "10.0.0.2", end_of_window + 2).allowed  # per address
