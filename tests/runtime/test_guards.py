"""A turn's safety limits: the step limit and repeated identical calls."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from missionctl.runtime.guards import StopReason, TurnGuard, TurnStopped, call_key


def test_the_same_call_a_third_time_stops_the_turn() -> None:
    guard = TurnGuard(max_repeats=3)
    guard.tool_call("search", {"q": "widgets", "limit": 5})
    guard.tool_call("search", '{"limit": 5, "q": "widgets"}')  # same call, other key order
    guard.tool_call("search", {"q": "gadgets"})
    with pytest.raises(TurnStopped) as stopped:
        guard.tool_call("search", {"limit": 5, "q": "widgets"})
    assert stopped.value.reason is StopReason.REPEATED_CALL
    assert "search" in stopped.value.detail


def test_the_step_limit_stops_the_turn() -> None:
    guard = TurnGuard(max_steps=2)
    guard.step()
    guard.step()
    with pytest.raises(TurnStopped) as stopped:
        guard.step()
    assert stopped.value.reason is StopReason.STEP_LIMIT


def test_call_keys_tolerate_any_arguments() -> None:
    assert call_key("t", None) == call_key("t", {}) == call_key("t", "")
    assert call_key("t", "not json {") != call_key("t", {})
    assert call_key("a", {"x": 1}) != call_key("b", {"x": 1})


@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 3)), max_size=30))
def test_a_turn_stops_exactly_when_some_call_reaches_the_repeat_limit(
    calls: list[tuple[str, int]],
) -> None:
    guard = TurnGuard(max_repeats=3, max_steps=1000)
    seen: dict[tuple[str, int], int] = {}
    for name, value in calls:
        seen[(name, value)] = seen.get((name, value), 0) + 1
        if seen[(name, value)] >= 3:
            with pytest.raises(TurnStopped):
                guard.tool_call(name, {"v": value})
            return
        guard.tool_call(name, {"v": value})
