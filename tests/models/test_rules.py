"""The pure cores of the model layer: routing order, the breaker, budget arithmetic."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from missionctl.models.accounting import Standing, cost_nanos, fits, period_key
from missionctl.models.breaker import Breaker, BreakerState
from missionctl.models.routing import Candidate, rank
from missionctl.models.schemas import Strategy

prices = st.one_of(st.none(), st.floats(min_value=0, max_value=100, allow_nan=False))
candidates = st.lists(
    st.builds(
        Candidate,
        name=st.uuids().map(str),
        capabilities=st.frozensets(st.sampled_from(["tools", "json_output", "vision"])),
        context_window=st.one_of(st.none(), st.integers(1, 10_000)),
        input_per_mtok=prices,
        output_per_mtok=prices,
        latency_ms=st.one_of(st.none(), st.floats(0, 10_000, allow_nan=False)),
        is_enabled=st.booleans(),
    ),
    max_size=8,
    unique_by=lambda c: c.name,
)
needs = st.frozensets(st.sampled_from(["tools", "json_output", "vision"]))


@given(candidates, st.sampled_from(list(Strategy)), needs, st.integers(0, 20_000))
def test_ranking_keeps_exactly_the_qualifying_deployments(
    listed: list[Candidate], strategy: Strategy, required: frozenset[str], tokens: int
) -> None:
    ranked = rank(listed, strategy, required, tokens)
    expected = [
        c
        for c in listed
        if c.is_enabled
        and required <= c.capabilities
        and (c.context_window is None or tokens <= c.context_window)
    ]
    assert sorted(c.name for c in ranked) == sorted(c.name for c in expected)
    if strategy is Strategy.ORDER:
        assert ranked == expected


@given(candidates)
def test_cost_ranking_puts_cheaper_first_and_unpriced_last(listed: list[Candidate]) -> None:
    ranked = rank(listed, Strategy.COST)
    known = [c.blended_price for c in ranked if c.blended_price is not None]
    assert known == sorted(known)
    seen_unpriced = False
    for candidate in ranked:
        if candidate.blended_price is None:
            seen_unpriced = True
        else:
            assert not seen_unpriced


@given(candidates)
def test_latency_ranking_is_fastest_first_with_ties_in_policy_order(
    listed: list[Candidate],
) -> None:
    ranked = rank(listed, Strategy.LATENCY)
    keys = [(c.latency_ms is None, c.latency_ms or 0.0) for c in ranked]
    assert keys == sorted(keys)
    enabled = [c for c in listed if c.is_enabled]
    for a, b in itertools.pairwise(ranked):
        if a.latency_ms == b.latency_ms:
            assert enabled.index(a) < enabled.index(b)


def test_the_breaker_opens_cools_down_probes_once_and_closes() -> None:
    breaker = Breaker(failures_to_open=3, cooldown_seconds=10)
    for _ in range(2):
        breaker.failed(0)
    assert breaker.state is BreakerState.CLOSED and breaker.allow(0)
    breaker.failed(1)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow(5)
    assert breaker.available_at(5) == 11
    assert breaker.allow(11)  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow(11)  # only one probe at a time
    breaker.succeeded(latency_ms=20)
    assert breaker.state is BreakerState.CLOSED and breaker.allow(12)
    assert breaker.latency_ms == 20


def test_a_failed_probe_reopens_and_a_retry_after_blocks_without_counting() -> None:
    breaker = Breaker(failures_to_open=1, cooldown_seconds=10)
    breaker.failed(0)
    assert breaker.allow(10)
    breaker.failed(10)
    assert breaker.state is BreakerState.OPEN and not breaker.allow(15)
    fresh = Breaker(failures_to_open=1, cooldown_seconds=10)
    fresh.rate_limited(0, retry_after=3)
    assert fresh.state is BreakerState.CLOSED
    assert not fresh.allow(2.9)
    assert fresh.allow(3)


@given(st.lists(st.sampled_from(["ok", "fail"]), max_size=50))
def test_the_breaker_is_open_only_after_enough_failures_in_a_row(outcomes: list[str]) -> None:
    breaker = Breaker(failures_to_open=3, cooldown_seconds=1e9)
    streak = 0
    for now, outcome in enumerate(outcomes):
        if breaker.state is BreakerState.OPEN:
            break
        if outcome == "ok":
            breaker.succeeded(1.0)
            streak = 0
        else:
            breaker.failed(now)
            streak += 1
        assert (breaker.state is BreakerState.OPEN) == (streak >= 3)


@given(
    st.one_of(st.none(), st.integers(0, 10**12)),
    st.one_of(st.none(), st.integers(0, 10**9)),
    st.integers(0, 10**12),
    st.integers(0, 10**9),
    st.integers(0, 10**12),
    st.integers(0, 10**9),
    st.integers(0, 10**10),
    st.integers(0, 10**6),
)
def test_a_call_fits_only_if_spent_plus_held_plus_estimate_stays_within_every_limit(
    limit_nanos: int | None,
    limit_tokens: int | None,
    spent: int,
    spent_tokens: int,
    held: int,
    held_tokens: int,
    estimate: int,
    estimate_tokens: int,
) -> None:
    standing = Standing(limit_nanos, limit_tokens, spent, spent_tokens, held, held_tokens)
    result = fits(standing, estimate, estimate_tokens)
    if result:
        assert limit_nanos is None or spent + held + estimate <= limit_nanos
        assert limit_nanos is None or spent + held < limit_nanos
        assert limit_tokens is None or spent_tokens + held_tokens + estimate_tokens <= limit_tokens
    elif limit_nanos is None or (
        spent + held + estimate <= limit_nanos and spent + held < limit_nanos
    ):
        assert limit_tokens is not None


positive_prices = st.floats(min_value=0.0, max_value=100, allow_nan=False)


@given(st.integers(0, 10**7), st.integers(0, 10**7), positive_prices, positive_prices)
def test_costs_round_up_never_down(
    tokens_in: int, tokens_out: int, price_in: float, price_out: float
) -> None:
    exact = (tokens_in * price_in + tokens_out * price_out) * 1000  # nanos: USD/MTok * 1e3
    assert cost_nanos(tokens_in, tokens_out, price_in, price_out) >= exact * (1 - 1e-12) - 1e-6


def test_periods_are_utc_days_months_or_forever() -> None:
    moment = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    assert period_key("daily", moment) == "2026-11-30"
    assert period_key("monthly", moment) == "2026-11"
    assert period_key("total", moment) == "total"
