"""The task state machine, exhaustively and by property (pure core, no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from missionctl.board.transitions import (
    ALL_FACTS,
    GRAPH,
    TaskFacts,
    TaskStatus,
    allowed_targets,
    check_transition,
    facts_needed,
    guard_failure,
)
from missionctl.errors import InvalidTransition

statuses = st.sampled_from(list(TaskStatus))
facts = st.builds(
    TaskFacts,
    has_assignees=st.booleans(),
    dependencies_done=st.booleans(),
    subtasks_done=st.booleans(),
)


@given(current=statuses, target=statuses, task=facts)
def test_check_agrees_with_allowed_targets(
    current: TaskStatus, target: TaskStatus, task: TaskFacts
) -> None:
    allowed = allowed_targets(current, task)
    if target is current or target in allowed:
        check_transition(current, target, task)
    else:
        with pytest.raises(InvalidTransition) as error:
            check_transition(current, target, task)
        assert error.value.extra["allowed"] == [s.value for s in allowed]
        assert error.value.extra["current"] == current.value
        assert error.value.extra["target"] == target.value


@given(current=statuses, task=facts)
def test_guards_hold_for_every_allowed_target(current: TaskStatus, task: TaskFacts) -> None:
    for target in allowed_targets(current, task):
        assert target in GRAPH[current]
        if target in (TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS, TaskStatus.REVIEW):
            assert task.has_assignees
        if target is TaskStatus.INBOX:
            assert not task.has_assignees
        if target is TaskStatus.IN_PROGRESS:
            assert task.dependencies_done
        if target is TaskStatus.DONE:
            assert task.subtasks_done


@given(path=st.lists(st.tuples(statuses, facts), max_size=40))
def test_any_walk_reaches_done_only_through_review(
    path: list[tuple[TaskStatus, TaskFacts]],
) -> None:
    current = TaskStatus.INBOX
    for target, task in path:
        try:
            check_transition(current, target, task)
        except InvalidTransition:
            continue
        if target is TaskStatus.DONE and current is not TaskStatus.DONE:
            assert current is TaskStatus.REVIEW
        current = target


def test_every_status_can_be_left_and_done_can_be_reached() -> None:
    everything = TaskFacts(has_assignees=True)
    for status in TaskStatus:
        assert GRAPH[status], f"{status} is a dead end"
    reachable, frontier = {TaskStatus.INBOX}, [TaskStatus.INBOX]
    while frontier:
        status = frontier.pop()
        for target in GRAPH[status]:
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(TaskStatus)
    assert TaskStatus.DONE in allowed_targets(TaskStatus.REVIEW, everything)
    assert allowed_targets(TaskStatus.INBOX, TaskFacts(has_assignees=False)) == [TaskStatus.BLOCKED]


@given(target=statuses, task=facts, other=facts)
def test_a_guard_reads_only_the_facts_it_needs(
    target: TaskStatus, task: TaskFacts, other: TaskFacts
) -> None:
    # Facts outside `facts_needed(target)` may be anything (the board skips looking them up).
    needed = facts_needed(target)
    assert needed <= ALL_FACTS
    mixed = TaskFacts(
        **{
            name: getattr(task if name in needed else other, name)
            for name in ("has_assignees", "dependencies_done", "subtasks_done")
        }
    )
    assert guard_failure(target, mixed) == guard_failure(target, task)
