"""The engine's pure rules: retry delays, what a failure leads to, and cron arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from missionctl.engine import cron, policy
from missionctl.engine.schemas import JobStatus, MisfirePolicy

S = JobStatus


@given(
    attempt=st.integers(min_value=1, max_value=500),
    base=st.floats(min_value=0.01, max_value=60),
    cap=st.floats(min_value=0.01, max_value=86_400),
    jitter=st.floats(min_value=0, max_value=1),
)
def test_a_retry_delay_lies_in_the_upper_half_of_a_doubling_capped_ceiling(
    attempt: int, base: float, cap: float, jitter: float
) -> None:
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 62))
    delay = policy.retry_delay(attempt, base, cap, jitter)
    assert ceiling / 2 - 1e-9 <= delay <= ceiling + 1e-9
    assert delay <= max(cap, 0) + 1e-9


@given(attempt=st.integers(min_value=1, max_value=40), jitter=st.floats(min_value=0, max_value=1))
def test_ceilings_never_shrink_from_one_attempt_to_the_next(attempt: int, jitter: float) -> None:
    lowest_next = policy.retry_delay(attempt + 1, 1.0, 3600.0, 0.0)
    highest_now = policy.retry_delay(attempt, 1.0, 3600.0, 1.0)
    assert lowest_next >= highest_now / 2
    assert policy.retry_delay(attempt, 1.0, 3600.0, jitter) > 0


def test_retry_delay_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="from 1"):
        policy.retry_delay(0, 1, 10, 0.5)
    with pytest.raises(ValueError, match="jitter"):
        policy.retry_delay(1, 1, 10, 1.5)


@given(attempts=st.integers(1, 20), max_attempts=st.integers(1, 20), retryable=st.booleans())
def test_a_failure_retries_only_while_attempts_remain_and_the_error_allows_it(
    attempts: int, max_attempts: int, retryable: bool
) -> None:
    status = policy.status_after_failure(attempts, max_attempts, is_retryable=retryable)
    assert (status is S.FAILED) == (retryable and attempts < max_attempts)
    assert status in {S.FAILED, S.DEAD}


def test_which_states_a_person_can_act_on() -> None:
    assert S.RUNNING in policy.CANCELLABLE and S.SUCCEEDED not in policy.CANCELLABLE
    assert policy.RETRYABLE.isdisjoint({S.QUEUED, S.RUNNING, S.SUCCEEDED})
    assert {S.FAILED, S.DEAD} == policy.DISCARDABLE


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_cron_reads_the_expression_in_its_time_zone_across_daylight_saving() -> None:
    winter = cron.next_after("0 9 * * *", "Europe/Berlin", utc(2026, 3, 27, 12))
    summer = cron.next_after("0 9 * * *", "Europe/Berlin", utc(2026, 3, 28, 12))
    assert winter == utc(2026, 3, 28, 8)  # 09:00 CET
    assert summer == utc(2026, 3, 29, 7)  # 09:00 CEST
    # 02:30 does not exist on the day clocks spring forward: it fires once, not never or twice.
    fires, when = [], utc(2026, 3, 28, 12)
    for _ in range(3):
        when = cron.next_after("30 2 * * *", "Europe/Berlin", when)
        fires.append(when)
    assert len(set(fires)) == 3 and fires == sorted(fires)
    assert fires[1] - fires[0] < timedelta(days=1, hours=1)


@pytest.mark.parametrize(
    ("expression", "zone", "field"),
    [
        ("61 * * * *", "UTC", "cron"),
        ("* * *", "UTC", "cron"),
        ("every monday", "UTC", "cron"),
        ("* * * * *", "Mars/Olympus", "time zone"),
    ],
)
def test_unusable_cron_expressions_and_zones_are_refused(
    expression: str, zone: str, field: str
) -> None:
    with pytest.raises(cron.CronError, match=field):
        cron.check(expression, zone)


@given(
    late_seconds=st.integers(min_value=0, max_value=4000),
    grace=st.integers(min_value=0, max_value=1000),
    misfire=st.sampled_from(list(MisfirePolicy)),
)
def test_due_fires_each_time_within_grace_once_and_handles_older_ones_by_policy(
    late_seconds: int, grace: int, misfire: MisfirePolicy
) -> None:
    every_minute = "* * * * *"
    first = utc(2026, 11, 30, 10, 0)
    now = first + timedelta(seconds=late_seconds)
    due = cron.due(every_minute, "UTC", first, now, grace_seconds=grace, policy=misfire)
    fires = list(due.fire_times)
    assert fires == sorted(set(fires))
    assert all(first <= fire <= now for fire in fires)
    assert due.next_run_at > now
    in_grace = [first + timedelta(minutes=n) for n in range(late_seconds // 60 + 1)]
    in_grace = [f for f in in_grace if f >= now - timedelta(seconds=grace)]
    missed = first < now - timedelta(seconds=grace)
    expected_extra = 1 if missed and misfire is MisfirePolicy.RUN_ONCE else 0
    assert len(fires) == len(in_grace) + expected_extra
    assert set(in_grace) <= set(fires)


def test_nothing_is_due_before_the_next_firing() -> None:
    at = utc(2026, 11, 30, 10, 0)
    due = cron.due(
        "* * * * *",
        "UTC",
        at,
        at - timedelta(seconds=1),
        grace_seconds=60,
        policy=MisfirePolicy.RUN_ONCE,
    )
    assert due.fire_times == () and due.next_run_at == at


def test_a_long_pause_does_not_flood_the_queue() -> None:
    start = utc(2026, 1, 1)
    now = start + timedelta(days=30)
    due = cron.due(
        "* * * * * *", "UTC", start, now, grace_seconds=86_400, policy=MisfirePolicy.RUN_ONCE
    )
    assert len(due.fire_times) <= cron.MAX_CATCH_UP + 1
    assert due.next_run_at > now
