"""Agents' turns with a scripted model: wake-ups, review rounds, runaway loops, questions to
people, pinned versions, and a crash that loses and repeats nothing."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from sqlalchemy import func, select, update

from missionctl.agents.schemas import Agent
from missionctl.db import DEFAULT_TENANT_ID, utcnow, write_priority
from missionctl.engine.models import JobRow
from missionctl.models.metering import CallContext
from missionctl.runtime.models import AgentTurnRow
from missionctl.runtime.service import PLANNER_TURN_PRIORITY, TURN_JOB
from missionctl.runtime.turns import run_async
from tests.conftest import Backend
from tests.runtime.conftest import StartAgents, wait_until

Respond = Callable[[list[ModelMessage], AgentInfo, Agent], ModelResponse]


def factory(respond: Respond, calls: list[str] | None = None) -> Any:
    """A model factory whose model answers with `respond(messages, info, agent)`."""

    def build(agent: Agent, _context: CallContext) -> FunctionModel:
        def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            if calls is not None:
                calls.append(agent.name)
            return respond(messages, info, agent)

        return FunctionModel(answer)

    return build


def returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    last = messages[-1]
    return (
        [p for p in last.parts if isinstance(p, ToolReturnPart)]
        if isinstance(last, ModelRequest)
        else []
    )


def output_tool(info: AgentInfo) -> str:
    names = [t.name for t in info.output_tools]
    assert names, "the turn offers a structured output"
    return names[0]


def approve(info: AgentInfo) -> ModelResponse:
    """A reviewer's approval (or a plain answer when the turn asks for no verdict)."""
    if not info.output_tools:
        return ModelResponse(parts=[TextPart("ok")])
    verdict = {"approved": True, "comments": ["Meets the task."]}
    return ModelResponse(parts=[ToolCallPart(output_tool(info), verdict)])


def prompt_of(messages: list[ModelMessage]) -> str:
    return "\n".join(
        str(part.content)
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if part.part_kind == "user-prompt"
    )


def task_status(api: httpx.Client, task_id: str) -> str:
    return str(api.get(f"/tasks/{task_id}").json()["status"])


def events_of(api: httpx.Client, event_type: str) -> list[dict[str, Any]]:
    query = {"event_type": event_type, "limit": 200}
    return list(api.get("/activities", params=query).json()["items"])


def test_an_assignment_wakes_the_agent_at_once_and_an_idle_turn_calls_no_model(
    api: httpx.Client, team: dict[str, dict[str, Any]], start_agents: StartAgents, backend: Backend
) -> None:
    calls: list[str] = []

    def respond(messages: list[ModelMessage], info: AgentInfo, agent: Agent) -> ModelResponse:
        if agent.name == "reviewer":
            verdict = {"approved": True, "comments": ["Clear."]}
            return ModelResponse(parts=[ToolCallPart(output_tool(info), verdict)])
        if not returns(messages):
            body = {"title": "Notes", "content": "# Notes\n\nThe findings, in three parts."}
            return ModelResponse(parts=[ToolCallPart("write_document", body)])
        return ModelResponse(parts=[TextPart("Wrote the notes.")])

    start_agents(factory(respond, calls))
    writer = team["writer"]["agent_id"]
    task = api.post("/tasks", json={"title": "Take notes", "assignee_ids": [writer]}).json()
    wait_until(lambda: task_status(api, task["task_id"]) == "done")  # reviewed by the reviewer
    assert calls.count("writer") == 2  # one write turn: the tool call, then the report
    assert calls.count("reviewer") == 1
    # Every later wake-up of the writer finds nothing to do: no model call.
    with backend.db.engine.connect() as conn:
        turns = conn.scalar(select(func.count()).select_from(JobRow).where(JobRow.kind == TURN_JOB))
    finished = events_of(api, "agent.turn_finished")
    assert turns is not None and turns >= len(finished)
    assert {e["payload"]["mode"] for e in finished} >= {"write", "review"}
    assert len(calls) == 3


def test_a_turn_that_finds_another_turn_of_its_agent_running_undoes_its_begin(
    api: httpx.Client, team: dict[str, dict[str, Any]], start_agents: StartAgents, backend: Backend
) -> None:
    writer = team["writer"]["agent_id"]
    task = api.post("/tasks", json={"title": "Take notes", "assignee_ids": [writer]}).json()
    # Another turn of the writer runs (a job held by some worker), as the queued one begins.
    running = uuid.uuid4()
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        session.add(
            JobRow(
                job_id=running,
                kind=TURN_JOB,
                payload={"agent_id": writer},
                status="running",
                lease_owner="elsewhere",
                lease_expires_at=utcnow() + timedelta(hours=1),
            )
        )
        session.flush()
        session.execute(
            update(AgentTurnRow)
            .where(AgentTurnRow.agent_id == uuid.UUID(writer))
            .values(running_job_id=running)
        )
    calls: list[str] = []
    start_agents(factory(lambda _m, _i, _a: ModelResponse(parts=[TextPart("?")]), calls))

    def busy_turns() -> list[Any]:
        with backend.db.engine.connect() as conn:
            return list(
                conn.scalars(
                    select(JobRow.result).where(
                        JobRow.kind == TURN_JOB, JobRow.status == "succeeded"
                    )
                )
            )

    wait_until(lambda: any(r and r.get("outcome") == "busy" for r in busy_turns()))
    assert calls == []  # no model call, and nothing of the begin is left behind:
    assert task_status(api, task["task_id"]) == "assigned"  # not started
    with backend.db.engine.connect() as conn:
        state = conn.execute(
            select(AgentTurnRow.running_job_id, AgentTurnRow.wake_pending).where(
                AgentTurnRow.agent_id == uuid.UUID(writer)
            )
        ).one()
    assert (state.running_job_id, state.wake_pending) == (running, True)  # it goes again after


def test_returned_work_is_redone_and_rounds_are_bounded(
    api: httpx.Client, team: dict[str, dict[str, Any]], start_agents: StartAgents
) -> None:
    seen_by_writer: list[str] = []

    def respond(messages: list[ModelMessage], info: AgentInfo, agent: Agent) -> ModelResponse:
        if agent.name == "reviewer":
            verdict = {"approved": False, "comments": ["Add a conclusion."]}
            return ModelResponse(parts=[ToolCallPart(output_tool(info), verdict)])
        if not returns(messages):
            seen_by_writer.append(prompt_of(messages))
            body = {"title": "Memo", "content": f"# Memo\n\nDraft {len(seen_by_writer)}."}
            return ModelResponse(parts=[ToolCallPart("write_document", body)])
        return ModelResponse(parts=[TextPart("Done.")])

    start_agents(factory(respond))
    writer = team["writer"]["agent_id"]
    task = api.post("/tasks", json={"title": "Write the memo", "assignee_ids": [writer]}).json()
    wait_until(lambda: task_status(api, task["task_id"]) == "blocked")
    assert len(seen_by_writer) == 3  # the default review_max_rounds
    assert "Add a conclusion." in seen_by_writer[1]  # the reviewer's comments reach the writer
    documents = api.get("/documents", params={"task_id": task["task_id"]}).json()["items"]
    assert len(documents) == 1 and documents[0]["version"] == 3  # one document, three versions
    detail = api.get(f"/tasks/{task['task_id']}").json()
    assert "3 review rounds" in detail["status_reason"]
    admin_id = api.get("/auth/me").json()["user"]["user_id"]
    notes = api.get("/notifications", params={"user_id": admin_id}).json()["items"]
    assert any("Write the memo" in n["content"] and n["kind"] == "escalation" for n in notes)


def test_a_runaway_model_repeating_one_call_is_stopped_and_escalated(
    api: httpx.Client, team: dict[str, dict[str, Any]], start_agents: StartAgents
) -> None:
    calls: list[str] = []

    def respond(_messages: list[ModelMessage], _info: AgentInfo, _agent: Agent) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart("list_tasks", {"status": "inbox"})])

    start_agents(factory(respond, calls))
    writer = team["writer"]["agent_id"]
    task = api.post("/tasks", json={"title": "Loop forever", "assignee_ids": [writer]}).json()
    wait_until(lambda: task_status(api, task["task_id"]) == "blocked")
    assert calls == ["writer"] * 3  # stopped at the third identical call
    stopped = wait_until(lambda: events_of(api, "agent.turn_stopped"))
    assert stopped[0]["payload"]["reason"] == "repeated_call"
    assert "turn stopped" in api.get(f"/tasks/{task['task_id']}").json()["status_reason"]


def test_a_question_parks_the_turn_and_the_answer_resumes_it(
    api: httpx.Client, team: dict[str, dict[str, Any]], start_agents: StartAgents, backend: Backend
) -> None:
    requests: list[int] = []
    requests_seen: list[str] = []

    def respond(messages: list[ModelMessage], info: AgentInfo, agent: Agent) -> ModelResponse:
        if agent.name != "writer":
            return approve(info)
        requests.append(len(messages))
        requests_seen.append(str(info.instructions))
        done = returns(messages)
        if not done:
            return ModelResponse(parts=[ToolCallPart("ask_human", {"question": "Which format?"})])
        if done[0].tool_name == "ask_human":
            body = {"title": "Report", "content": f"# Report\n\nFormat: {done[0].content}."}
            return ModelResponse(parts=[ToolCallPart("write_document", body)])
        return ModelResponse(parts=[TextPart("Wrote it in the format asked for.")])

    start_agents(factory(respond))
    writer = team["writer"]["agent_id"]
    task = api.post("/tasks", json={"title": "Write the report", "assignee_ids": [writer]}).json()
    question = wait_until(lambda: api.get("/questions", params={"status": "open"}).json()["items"])[
        0
    ]
    assert question["question"] == "Which format?"
    assert question["task_id"] == task["task_id"]
    assert task_status(api, task["task_id"]) == "in_progress"
    # While it waits, the agent's definition changes; the parked turn keeps its version.
    api.patch(f"/agents/{writer}", json={"instructions": "Changed while parked."})
    answered = api.post(
        f"/questions/{question['question_id']}/answer", json={"answer": "A one-page PDF"}
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered"
    again = api.post(f"/questions/{question['question_id']}/answer", json={"answer": "x"})
    assert again.status_code == 409
    wait_until(lambda: task_status(api, task["task_id"]) == "done")
    documents = api.get("/documents", params={"task_id": task["task_id"]}).json()["items"]
    content = api.get(f"/documents/{documents[0]['document_id']}").json()["content"]
    assert "Format: A one-page PDF." in content
    assert requests[0] == 1 and requests[1] > 2  # resumed with the whole conversation
    thread = api.get(f"/tasks/{task['task_id']}/messages").json()["items"]
    kinds = [m["message_type"] for m in thread]
    assert kinds[:2] == ["question", "answer"]
    finished = [e for e in events_of(api, "agent.turn_finished") if e["agent_id"] == writer]
    assert {e["payload"]["outcome"] for e in finished} >= {"parked", "submitted"}
    # The resumed turn kept the definition it started with, not the one edited meanwhile.
    assert api.get(f"/agents/{writer}").json()["version"] == 2
    assert {e["payload"]["version"] for e in finished} == {1}
    prompts = [p for p in requests_seen if "Changed while parked." in p]
    assert not prompts


def test_people_answer_questions_agents_and_viewers_may_not(
    api: httpx.Client, team: dict[str, dict[str, Any]], backend: Backend, server: str
) -> None:
    from missionctl.comms.questions import ask_question
    from missionctl.comms.schemas import QuestionCreate
    from missionctl.permissions import Role
    from tests.conftest import client_for, make_user

    with backend.db.transaction() as session:
        asked = ask_question(
            session,
            QuestionCreate(agent_id=uuid.UUID(team["writer"]["agent_id"]), question="Budget?"),
        )
    _user, token = make_user(backend, Role.VIEWER)
    with client_for(server, token) as viewer:
        refused = viewer.post(f"/questions/{asked.question_id}/answer", json={"answer": "no"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    empty = api.post(f"/questions/{asked.question_id}/answer", json={"answer": ""})
    assert empty.status_code == 422
    missing = api.post(f"/questions/{uuid.uuid4()}/answer", json={"answer": "x"})
    assert missing.status_code == 404
    admin_id = api.get("/auth/me").json()["user"]["user_id"]
    notes = api.get("/notifications", params={"user_id": admin_id}).json()["items"]
    assert any(n["kind"] == "question" and "Budget?" in n["content"] for n in notes)


def test_a_turn_that_crashes_resumes_without_repeating_its_effects_or_model_calls(
    api: httpx.Client, team: dict[str, dict[str, Any]], start_agents: StartAgents
) -> None:
    asked: list[int] = []
    crashed = threading.Event()

    def respond(messages: list[ModelMessage], info: AgentInfo, agent: Agent) -> ModelResponse:
        if agent.name != "writer":
            return approve(info)
        asked.append(len(messages))
        done = returns(messages)
        if not done:
            own = re.search(r"task id: ([0-9a-f-]{36})", prompt_of(messages)).group(1)  # type: ignore[union-attr]
            return ModelResponse(
                parts=[
                    ToolCallPart("post_message", {"task_id": own, "content": "Starting."}),
                    ToolCallPart("write_document", {"title": "Plan", "content": "# Plan\n\nv1"}),
                ]
            )
        if not crashed.is_set():
            crashed.set()
            raise RuntimeError("the worker dies here")  # after both tools ran and committed
        return ModelResponse(parts=[TextPart("Posted and wrote the plan.")])

    start_agents(factory(respond))
    writer = team["writer"]["agent_id"]
    task = api.post("/tasks", json={"title": "Make a plan", "assignee_ids": [writer]}).json()
    task_id = task["task_id"]
    wait_until(lambda: task_status(api, task_id) in ("review", "done"))
    thread = api.get(f"/tasks/{task_id}/messages").json()["items"]
    assert [m["content"] for m in thread].count("Starting.") == 1
    documents = api.get("/documents", params={"task_id": task_id}).json()["items"]
    assert [(d["title"], d["version"]) for d in documents] == [("Plan", 1)]
    # The first response was checkpointed: the retry asked only for what had not been answered.
    assert asked == [1, 3, 3]
    jobs = api.get("/jobs", params={"kind": TURN_JOB, "limit": 50}).json()["items"]
    retried = [j for j in jobs if j["attempts"] > 1]
    assert len(retried) == 1
    detail = api.get(f"/jobs/{retried[0]['job_id']}").json()
    keys = [s["step_key"] for s in detail["steps"]]
    assert keys[0] == "begin" and "model:0" in keys and "finish" in keys
    assert sum(k.startswith("tool:") for k in keys) == 2
    assert json.dumps(detail["steps"]).count("write_document") >= 1


def test_a_turns_model_calls_write_with_its_jobs_priority() -> None:
    async def priority_off_the_loop() -> int:
        # As the gateway's budget hold and metering run: in a thread, from the turns' loop.
        return await asyncio.to_thread(write_priority.get)

    token = write_priority.set(PLANNER_TURN_PRIORITY)  # as a worker sets it for a planner's job
    try:
        assert run_async(priority_off_the_loop()) == PLANNER_TURN_PRIORITY
    finally:
        write_priority.reset(token)
    assert run_async(priority_off_the_loop()) == 0
