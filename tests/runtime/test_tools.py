"""The platform tools, driven by a scripted model through a real pydantic-ai Agent."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from missionctl.db import DEFAULT_TENANT_ID
from missionctl.permissions import Role
from missionctl.runtime.tools import TurnDeps, host_allowed, platform_tools
from missionctl.storage import AttachmentStore
from tests.conftest import Backend
from tests.models.fake_providers import FakeProvider


def scripted(*steps: list[ToolCallPart]) -> tuple[FunctionModel, list[list[Any]]]:
    """A model that makes the given tool calls, one step per request, then says done; it
    records what each request saw after its own last calls (tool returns and retries)."""
    seen: list[list[Any]] = []

    def respond(messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        if isinstance(last, ModelRequest):
            seen.append([p for p in last.parts if isinstance(p, ToolReturnPart | RetryPromptPart)])
        step = len(seen) - 1
        if step < len(steps):
            return ModelResponse(parts=list(steps[step]))
        return ModelResponse(parts=[TextPart("done")])

    return FunctionModel(respond), seen


def run(
    backend: Backend,
    model: FunctionModel,
    agent_id: uuid.UUID,
    role: Role = Role.AGENT,
    fetch_allowed_hosts: tuple[str, ...] = (),
) -> str:
    deps = TurnDeps(
        db=backend.db,
        tenant_id=DEFAULT_TENANT_ID,
        agent_id=agent_id,
        store=AttachmentStore(backend.settings.data_dir / "attachments"),
        max_attachment_bytes=1_000_000,
        role=role,
        fetch_allowed_hosts=fetch_allowed_hosts,
    )
    agent = Agent(model, deps_type=TurnDeps, tools=platform_tools(), retries=2)
    return str(asyncio.run(agent.run("go", deps=deps)).output)


def test_an_agent_creates_subtasks_assigns_them_and_posts_in_the_thread(
    api: httpx.Client, backend: Backend
) -> None:
    lead = api.post("/agents", json={"name": "lead", "role": "Orchestrator"}).json()
    api.post("/agents", json={"name": "scout", "role": "Researcher"})
    goal = api.post("/tasks", json={"title": "Launch plan", "is_goal": True}).json()

    def respond(messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        returns = [p for p in messages[-1].parts if isinstance(p, ToolReturnPart)]
        if len(messages) == 1:
            create = {"title": "Research", "parent_task_id": goal["task_id"]}
            return ModelResponse(parts=[ToolCallPart("create_task", create)])
        if returns and returns[0].tool_name == "create_task":
            task_id = returns[0].content["task_id"]
            return ModelResponse(
                parts=[
                    ToolCallPart("assign_task", {"task_id": task_id, "agent_names": ["scout"]}),
                    ToolCallPart("post_message", {"task_id": task_id, "content": "@scout go"}),
                ]
            )
        return ModelResponse(parts=[TextPart("planned")])

    assert run(backend, FunctionModel(respond), uuid.UUID(lead["agent_id"])) == "planned"
    subtasks = api.get("/tasks", params={"parent_task_id": goal["task_id"]}).json()["items"]
    assert [(t["title"], t["status"]) for t in subtasks] == [("Research", "assigned")]
    thread = api.get(f"/tasks/{subtasks[0]['task_id']}/messages").json()["items"]
    assert [(m["content"], m["author_agent_id"]) for m in thread] == [
        ("@scout go", lead["agent_id"])
    ]


def test_refusals_and_bad_input_go_back_to_the_model(api: httpx.Client, backend: Backend) -> None:
    agent = api.post("/agents", json={"name": "lead", "role": "Orchestrator"}).json()
    task = api.post("/tasks", json={"title": "Something"}).json()
    model, seen = scripted(
        [ToolCallPart("update_task_status", {"task_id": task["task_id"], "status": "done"})],
        [ToolCallPart("update_task_status", {"task_id": "nope", "status": "review"})],
    )
    assert run(backend, model, uuid.UUID(agent["agent_id"])) == "done"
    # pydantic-ai hands a tool's ModelRetry back as a retried tool return (or a retry prompt).
    answers = [str(p.content) for parts in seen for p in parts]
    assert "invalid_transition" in answers[0]
    assert "must be a task id" in answers[1]
    assert api.get(f"/tasks/{task['task_id']}").json()["status"] == "inbox"
    viewer_model, viewer_seen = scripted([ToolCallPart("create_task", {"title": "Not allowed"})])
    run(backend, viewer_model, uuid.UUID(agent["agent_id"]), role=Role.VIEWER)
    assert "forbidden" in str(viewer_seen[1][0].content)
    assert [t["title"] for t in api.get("/tasks").json()["items"]] == ["Something"]


def test_documents_are_written_and_read_back(api: httpx.Client, backend: Backend) -> None:
    agent = api.post("/agents", json={"name": "writer", "role": "Writer"}).json()
    model, seen = scripted(
        [ToolCallPart("write_document", {"title": "Brief", "content": "# Brief\nHello"})],
    )
    run(backend, model, uuid.UUID(agent["agent_id"]))
    written = seen[1][0].content
    assert written["version"] == 1
    reader, read_seen = scripted(
        [ToolCallPart("read_document", {"document_id": written["document_id"]})]
    )
    run(backend, reader, uuid.UUID(agent["agent_id"]))
    assert read_seen[1][0].content["content"] == "# Brief\nHello"


def test_working_notes_are_read_and_appended_with_every_version_kept(
    api: httpx.Client, backend: Backend
) -> None:
    agent = api.post("/agents", json={"name": "lead", "role": "Orchestrator"}).json()
    model, seen = scripted(
        [ToolCallPart("append_working_note", {"note": "Launch moved to Friday."})],
        [ToolCallPart("append_working_note", {"note": "Legal signed off."})],
        [ToolCallPart("read_working_md", {})],
    )
    run(backend, model, uuid.UUID(agent["agent_id"]))
    assert [parts[0].content["notes_version"] for parts in seen[1:3]] == [1, 2]
    content = seen[3][0].content["content"]
    assert "- Launch moved to Friday.\n- Legal signed off." in content
    versions = api.get("/state/working-md/versions").json()
    assert len(versions) == 2


def test_urls_are_fetched_only_from_allowed_hosts(api: httpx.Client, backend: Backend) -> None:
    agent = api.post("/agents", json={"name": "scout", "role": "Researcher"}).json()
    with FakeProvider() as site:
        allowed = f"{site.base_url}/v1/models"
        model, seen = scripted(
            [ToolCallPart("fetch_url", {"url": allowed})],
            [ToolCallPart("fetch_url", {"url": "http://example.com/secrets"})],
            [ToolCallPart("fetch_url", {"url": "file:///etc/passwd"})],
        )
        run(backend, model, uuid.UUID(agent["agent_id"]), fetch_allowed_hosts=("127.0.0.1",))
    fetched = seen[1][0].content
    assert fetched["status"] == 401  # the fake wants a key: the answer comes back as it is
    assert "error" in fetched["text"]
    assert "not on the fetch allow-list" in str(seen[2][0].content)
    assert "not an http(s) URL" in str(seen[3][0].content)
    assert host_allowed("api.example.com", [".example.com"])
    assert host_allowed("example.com", [".example.com"])
    assert not host_allowed("evil-example.com", [".example.com"])
    assert not host_allowed("example.com.evil.org", ["example.com"])
