"""Assignment scoring, exhaustively: eligibility, balance, priorities, hints, determinism."""

from __future__ import annotations

import uuid
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from missionctl.runtime.assignment import Candidate, Need, assign, score

SKILLS = ["research", "writing", "review", "analysis"]


def agent(name: str, *skills: str, open_tasks: int = 0, capacity: int = 3, **kw: bool) -> Candidate:
    return Candidate(uuid.uuid4(), name, frozenset(skills), open_tasks, capacity, **kw)


def need(capability: str | None = None, priority: str = "normal", **kw: uuid.UUID) -> Need:
    return Need(uuid.uuid4(), capability, priority, **kw)


def test_only_capable_available_agents_with_room_are_eligible() -> None:
    writer = agent("writer", "writing")
    assert score(writer, need("research"), 0) is None
    assert score(writer, need("writing"), 0) is not None
    assert score(writer, need("writing"), 3) is None  # at capacity
    assert score(agent("away", "writing", is_available=False), need("writing"), 0) is None
    assert score(writer, need(None), 0) is not None  # no capability asked: anyone may


def test_the_emptier_agent_wins_and_the_hint_only_breaks_near_ties() -> None:
    busy, free = agent("busy", "writing", open_tasks=2), agent("free", "writing")
    task = need("writing", proposed_agent_id=busy.agent_id)
    assert assign([task], [busy, free]) == {task.task_id: free.agent_id}
    twin_a, twin_b = agent("a", "writing"), agent("b", "writing")
    hinted = need("writing", proposed_agent_id=twin_b.agent_id)
    assert assign([hinted], [twin_a, twin_b]) == {hinted.task_id: twin_b.agent_id}


def test_urgent_tasks_are_placed_first_when_room_is_short() -> None:
    only = agent("only", "review", capacity=1)
    low, urgent = need("review", "low"), need("review", "urgent")
    chosen = assign([low, urgent], [only])
    assert chosen == {urgent.task_id: only.agent_id, low.task_id: None}


def test_ten_agents_and_fifty_tasks_are_balanced_without_double_assignment() -> None:
    team = [agent(f"agent-{i}", SKILLS[i % 4], capacity=10) for i in range(10)]
    tasks = [need(SKILLS[i % 4], ["low", "normal", "high"][i % 3]) for i in range(50)]
    chosen = assign(tasks, team)
    assert set(chosen) == {t.task_id for t in tasks}  # every task decided exactly once
    by_skill = {a.agent_id: next(iter(a.capabilities)) for a in team}
    for task in tasks:
        assert chosen[task.task_id] is not None
        assert by_skill[chosen[task.task_id]] == task.capability  # type: ignore[index]
    loads = Counter(chosen.values())
    for skill in SKILLS:
        skilled = [loads[a.agent_id] for a in team if skill in a.capabilities]
        assert max(skilled) - min(skilled) <= 1


agents_strategy = st.lists(
    st.builds(
        Candidate,
        agent_id=st.uuids(),
        name=st.text(alphabet="abcdefgh", min_size=1, max_size=4),
        capabilities=st.frozensets(st.sampled_from(SKILLS), max_size=3),
        open_tasks=st.integers(0, 4),
        capacity=st.integers(1, 5),
        is_available=st.booleans(),
    ),
    max_size=8,
    unique_by=lambda a: a.agent_id,
)
needs_strategy = st.lists(
    st.builds(
        Need,
        task_id=st.uuids(),
        capability=st.one_of(st.none(), st.sampled_from(SKILLS)),
        priority=st.sampled_from(["low", "normal", "high", "urgent"]),
    ),
    max_size=20,
    unique_by=lambda n: n.task_id,
)


@given(needs_strategy, agents_strategy)
def test_no_agent_goes_over_capacity_or_gets_work_it_cannot_do(
    needs: list[Need], agents: list[Candidate]
) -> None:
    chosen = assign(needs, agents)
    assert set(chosen) == {n.task_id for n in needs}
    by_id = {a.agent_id: a for a in agents}
    given_out = Counter(a for a in chosen.values() if a is not None)
    for agent_id, count in given_out.items():
        member = by_id[agent_id]
        assert member.is_available
        assert member.open_tasks + count <= member.capacity
    for task in needs:
        winner = chosen[task.task_id]
        if winner is not None and task.capability is not None:
            assert task.capability in by_id[winner].capabilities


@given(needs_strategy, agents_strategy)
def test_a_task_is_left_unassigned_only_when_no_one_could_take_it(
    needs: list[Need], agents: list[Candidate]
) -> None:
    chosen = assign(needs, agents)
    load = Counter(a for a in chosen.values() if a is not None)
    for task in needs:
        if chosen[task.task_id] is None:
            for member in agents:
                room = member.open_tasks + load[member.agent_id] < member.capacity
                capable = task.capability is None or task.capability in member.capabilities
                assert not (member.is_available and room and capable)


@given(needs_strategy, agents_strategy)
def test_assignment_is_deterministic(needs: list[Need], agents: list[Candidate]) -> None:
    assert assign(needs, agents) == assign(list(needs), list(agents))
