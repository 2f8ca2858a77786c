"""Goals: given over the API, listed, and followed through `goal_progress` (service and HTTP)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID, utcnow
from missionctl.events.service import record_event
from missionctl.models import ledger
from missionctl.models.accounting import period_key
from missionctl.models.models import UsageRow
from missionctl.permissions import Role
from missionctl.runtime.progress import goal_progress
from missionctl.runtime.schemas import GoalProgress
from tests.conftest import Backend, client_for, make_user
from tests.factories import agent, created, move, ok, problem, task


def give(
    api: httpx.Client, text: str = "Write a launch brief\nFor the web site."
) -> dict[str, Any]:
    """Give a goal over the API."""
    return created(api.post("/goals", json={"text": text}))


def progress(api: httpx.Client, goal_id: str) -> dict[str, Any]:
    body: dict[str, Any] = ok(api.get(f"/goals/{goal_id}"))
    return body


def read(backend: Backend, goal_id: str) -> GoalProgress:
    """The service's answer, in a read-only unit of work."""
    with backend.db.transaction(write=False) as session:
        return goal_progress(session, uuid.UUID(goal_id))


def subtask(api: httpx.Client, goal: dict[str, Any], title: str, **fields: Any) -> dict[str, Any]:
    return task(api, title, parent_task_id=goal["task_id"], **fields)


def use(backend: Backend, task_id: str | None, tokens: tuple[int, int], nanos: int | None) -> None:
    """One metered model request on a task (as the gateway records it)."""
    with backend.db.transaction() as session:
        session.add(
            UsageRow(
                task_id=uuid.UUID(task_id) if task_id else None,
                alias="fast",
                deployment="gpt",
                provider="openai",
                model="gpt-4o-mini",
                input_tokens=tokens[0],
                output_tokens=tokens[1],
                cost_nanos=nanos,
                outcome="ok",
            )
        )


def raise_event(backend: Backend, event_type: str, **fields: Any) -> None:
    """An event as another domain would record it."""
    fields.setdefault("subject_kind", "question")
    fields.setdefault("subject_id", uuid.uuid4())
    fields.setdefault("summary", event_type)
    with backend.db.transaction() as session:
        record_event(session, event_type, actor=Actor.system(), **fields)


# -- giving and listing goals ------------------------------------------------------------------


def test_a_goal_is_given_in_words_and_listed_newest_first(api: httpx.Client) -> None:
    first = give(api, "  Write a launch brief\n\nAudience: people who never used agents.  ")
    assert first["is_goal"] is True and first["status"] == "inbox"
    assert first["title"] == "Write a launch brief"
    assert first["description"] == "Write a launch brief\n\nAudience: people who never used agents."
    task(api, "Not a goal")
    second = created(api.post("/goals", json={"text": "Second goal", "priority": "urgent"}))
    assert second["priority"] == "urgent"
    listed = ok(api.get("/goals"))
    assert [g["task_id"] for g in listed["items"]] == [second["task_id"], first["task_id"]]
    page = ok(api.get("/goals", params={"limit": 1}))
    assert [g["task_id"] for g in page["items"]] == [second["task_id"]]
    rest = ok(api.get("/goals", params={"limit": 1, "cursor": page["next_cursor"]}))
    assert [g["task_id"] for g in rest["items"]] == [first["task_id"]]
    assert rest["next_cursor"] is None
    assert ok(api.get("/goals", params={"status": "done"}))["items"] == []


def test_a_long_first_line_is_cut_to_a_title(api: httpx.Client) -> None:
    goal = give(api, "x" * 300 + "\nmore")
    assert len(goal["title"]) == 200 and goal["title"].endswith("…")
    assert goal["description"] == "x" * 300 + "\nmore"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"text": ""},
        {"text": "   "},
        {"text": "\x1c\x1d"},
        {"text": "x" * 20_001},
        {"text": "a\x00"},
        {"text": "ok", "priority": "whenever"},
        {"text": "ok", "is_goal": False},
    ],
)
def test_bad_goals_are_refused(api: httpx.Client, payload: dict[str, Any]) -> None:
    problem(api.post("/goals", json=payload), 422, "validation_failed")
    assert ok(api.get("/goals"))["items"] == []


def test_a_task_that_is_not_a_goal_has_no_progress(api: httpx.Client) -> None:
    plain = task(api, "Plain task")
    body = problem(api.get(f"/goals/{plain['task_id']}"), 404, "not_found")
    assert "goal" in body["detail"]
    problem(api.get(f"/goals/{uuid.uuid4()}"), 404, "not_found")
    problem(api.get("/goals/not-a-uuid"), 422, "validation_failed")


def test_viewers_follow_goals_but_do_not_give_them(
    server: str, api: httpx.Client, backend: Backend
) -> None:
    goal = give(api)
    _user, token = make_user(backend, Role.VIEWER)
    with client_for(server, token) as viewer:
        assert [g["task_id"] for g in ok(viewer.get("/goals"))["items"]] == [goal["task_id"]]
        assert progress(viewer, goal["task_id"])["goal"]["title"] == "Write a launch brief"
        problem(viewer.post("/goals", json={"text": "Mine"}), 403, "forbidden")
    _user, token = make_user(backend, Role.OPERATOR)
    with client_for(server, token) as operator:
        created(operator.post("/goals", json={"text": "Operators give goals"}))


# -- progress ----------------------------------------------------------------------------------


def test_progress_counts_subtasks_and_names_their_agents(api: httpx.Client) -> None:
    boss, writer, reviewer = (
        agent(api, "orchestrator"),
        agent(api, "writer"),
        agent(api, "reviewer"),
    )
    goal = give(api)
    by_boss = {"created_by_agent_id": boss["agent_id"]}
    research = subtask(api, goal, "Research", assignee_ids=[writer["agent_id"]], **by_boss)
    subtask(
        api,
        goal,
        "Draft",
        assignee_ids=[writer["agent_id"], reviewer["agent_id"]],
        depends_on=[research["task_id"]],
        **by_boss,
    )
    subtask(api, goal, "Polish", **by_boss)
    task(api, "Elsewhere", assignee_ids=[reviewer["agent_id"]])
    assert move(api, research["task_id"], "in_progress").status_code == 200
    api.post(
        f"/agents/{writer['agent_id']}/heartbeat",
        json={"status": "active", "current_task_id": research["task_id"]},
    )
    body = progress(api, goal["task_id"])
    assert body["goal"]["task_id"] == goal["task_id"] and body["goal"]["status"] == "inbox"
    assert [s["title"] for s in body["subtasks"]] == ["Research", "Draft", "Polish"]
    assert [s["assignees"] for s in body["subtasks"]] == [["writer"], ["writer", "reviewer"], []]
    assert body["subtasks"][1]["depends_on"] == [research["task_id"]]
    assert body["counts"] == {
        "inbox": 1,
        "assigned": 1,
        "in_progress": 1,
        "review": 0,
        "done": 0,
        "blocked": 0,
    }
    agents = {a["name"]: a for a in body["agents"]}
    assert list(agents) == ["orchestrator", "reviewer", "writer"]
    assert agents["writer"]["status"] == "active"
    assert agents["writer"]["current_task_title"] == "Research"
    assert agents["reviewer"]["current_task_title"] is None
    assert body["attention"] == [] and body["needs_person"] is False
    assert body["is_finished"] is False


def test_a_finished_goal_lists_the_documents_of_its_tasks(api: httpx.Client) -> None:
    writer = agent(api, "writer")
    before = created(api.post("/documents", json={"title": "Older notes"}))
    goal = give(api)
    part = subtask(api, goal, "Write it", assignee_ids=[writer["agent_id"]])
    other = task(api, "Other work")
    on_part = created(
        api.post("/documents", json={"title": "Brief", "content": "v1", "task_id": part["task_id"]})
    )
    api.put(f"/documents/{on_part['document_id']}", json={"content": "v2"})
    on_goal = created(api.post("/documents", json={"title": "Summary", "task_id": goal["task_id"]}))
    created(api.post("/documents", json={"title": "Unrelated", "task_id": other["task_id"]}))
    for status in ("in_progress", "review", "done"):
        assert move(api, part["task_id"], status).status_code == 200
    api.post(f"/tasks/{goal['task_id']}/assign", json={"agent_ids": [writer["agent_id"]]})
    for status in ("in_progress", "review", "done"):
        assert move(api, goal["task_id"], status).status_code == 200
    body = progress(api, goal["task_id"])
    assert [(d["title"], d["version"], d["task_id"]) for d in body["documents"]] == [
        ("Brief", 2, part["task_id"]),
        ("Summary", 1, goal["task_id"]),
    ]
    assert {d["document_id"] for d in body["documents"]} == {
        on_part["document_id"],
        on_goal["document_id"],
    }
    assert before["document_id"] not in {d["document_id"] for d in body["documents"]}
    assert body["is_finished"] is True and body["goal"]["completed_at"]
    assert body["counts"]["done"] == 1 and body["goal"]["assignees"] == ["writer"]


def test_cost_adds_up_the_goal_and_its_subtasks_and_is_unknown_once_unpriced(
    api: httpx.Client, backend: Backend
) -> None:
    goal = give(api)
    part = subtask(api, goal, "Research")
    other = task(api, "Someone else's")
    use(backend, goal["task_id"], (100, 20), 1_500)
    use(backend, part["task_id"], (300, 80), 2_250_000)
    use(backend, other["task_id"], (999, 999), 9_999_999)
    use(backend, None, (5, 5), 5)
    body = progress(api, goal["task_id"])
    assert body["cost_usd"] == pytest.approx(0.0022515)
    assert (body["input_tokens"], body["output_tokens"], body["requests"]) == (400, 100, 2)
    assert body["unpriced_requests"] == 0
    assert read(backend, goal["task_id"]).cost_usd == pytest.approx(0.0022515)
    use(backend, part["task_id"], (10, 10), None)  # a model without a known price
    body = progress(api, goal["task_id"])
    assert body["cost_usd"] is None
    assert (body["input_tokens"], body["requests"], body["unpriced_requests"]) == (410, 3, 1)


# -- what needs a person -----------------------------------------------------------------------


def test_a_blocked_subtask_needs_a_person_until_it_moves_on(
    api: httpx.Client, backend: Backend
) -> None:
    writer = agent(api, "writer")
    goal = give(api)
    part = subtask(api, goal, "Get the numbers", assignee_ids=[writer["agent_id"]])
    reason = "the finance export needs a login"
    assert move(api, part["task_id"], "blocked", reason=reason).status_code == 200
    body = progress(api, goal["task_id"])
    assert body["needs_person"] is True and body["counts"]["blocked"] == 1
    (item,) = body["attention"]
    assert (item["kind"], item["task_id"], item["reason"]) == ("blocked", part["task_id"], reason)
    assert reason in item["summary"] and "Get the numbers" in item["summary"]
    assert read(backend, goal["task_id"]).attention[0].reason == reason
    assert move(api, part["task_id"], "assigned").status_code == 200
    body = progress(api, goal["task_id"])
    assert body["attention"] == [] and body["needs_person"] is False


def test_an_unanswered_question_on_the_goal_needs_a_person(
    api: httpx.Client, backend: Backend
) -> None:
    goal = give(api)
    part = subtask(api, goal, "Draft")
    elsewhere = task(api, "Elsewhere")
    question_id = str(uuid.uuid4())
    raise_event(
        backend,
        "question.asked",
        subject_id=question_id,
        task_id=uuid.UUID(part["task_id"]),
        summary="writer asks: formal or casual tone?",
        payload={"question_id": question_id},
    )
    raise_event(
        backend,
        "question.asked",
        task_id=uuid.UUID(elsewhere["task_id"]),
        payload={"question_id": str(uuid.uuid4())},
    )
    body = progress(api, goal["task_id"])
    (item,) = body["attention"]
    assert item["kind"] == "question" and item["subject_id"] == question_id
    assert item["summary"] == "writer asks: formal or casual tone?"
    assert item["task_id"] == part["task_id"] and item["event_id"] and item["created_at"]
    assert body["needs_person"] is True
    raise_event(
        backend, "question.answered", subject_id=question_id, payload={"question_id": question_id}
    )
    assert progress(api, goal["task_id"])["attention"] == []


def test_stalled_work_needs_a_person_until_something_happens_on_it(
    api: httpx.Client, backend: Backend
) -> None:
    goal = give(api)
    part = subtask(api, goal, "Research")
    raise_event(
        backend,
        "task.stalled",
        subject_kind="task",
        subject_id=part["task_id"],
        task_id=uuid.UUID(part["task_id"]),
        summary="No progress on 'Research' for 3 heartbeats of writer",
    )
    (item,) = progress(api, goal["task_id"])["attention"]
    assert item["kind"] == "stalled" and item["task_id"] == part["task_id"]
    api.post(f"/tasks/{part['task_id']}/messages", json={"content": "Still on it."})
    assert progress(api, goal["task_id"])["attention"] == []


def test_an_exhausted_budget_needs_a_person_until_it_is_raised(
    api: httpx.Client, backend: Backend
) -> None:
    goal = give(api)
    budget = created(api.post("/budgets", json={"scope": "tenant", "limit_tokens": 100}))
    budget_id = uuid.UUID(budget["budget_id"])
    now = utcnow()
    with backend.db.transaction() as session:  # what the gateway does when it refuses a call
        key = ledger.BudgetKey(budget_id, period_key(budget["period"], now))
        assert ledger.mark_exhausted(session.connection(), DEFAULT_TENANT_ID, key, now)
        record_event(
            session,
            "budget.exhausted",
            actor=Actor.system(),
            subject_kind="budget",
            subject_id=budget_id,
            summary="The tenant budget is exhausted",
            payload={"budget_id": str(budget_id), "scope": "tenant"},
        )
    (item,) = progress(api, goal["task_id"])["attention"]
    assert (item["kind"], item["subject_id"]) == ("budget", str(budget_id))
    ok(api.patch(f"/budgets/{budget_id}", json={"limit_tokens": 1000}))
    assert progress(api, goal["task_id"])["attention"] == []


# -- cost of reading ---------------------------------------------------------------------------


@contextmanager
def statements(backend: Backend) -> Iterator[list[str]]:
    """The SQL statements run on the backend's engine inside the block."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(backend.db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(backend.db.engine, "before_cursor_execute", count)


def test_reading_progress_takes_as_many_queries_for_many_subtasks_as_for_few(
    api: httpx.Client, backend: Backend
) -> None:
    writers = [agent(api, f"writer{n}")["agent_id"] for n in range(6)]
    small, large = give(api, "Small"), give(api, "Large")
    subtask(api, small, "Only part", assignee_ids=writers[:1])
    for n, writer in enumerate(writers):
        part = subtask(api, large, f"Part {n}", assignee_ids=[writer])
        created(api.post("/documents", json={"title": f"Doc {n}", "task_id": part["task_id"]}))
    with statements(backend) as few:
        read(backend, small["task_id"])
    with statements(backend) as many:
        assert len(read(backend, large["task_id"]).documents) == 6
    assert len(many) == len(few)
