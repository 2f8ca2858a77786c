"""What a turn reads from the database for its context: the thread with its authors' names and
the task's documents, by their titles (a plan turn leaves the thread out)."""

from __future__ import annotations

import uuid

import httpx

from missionctl.db import DEFAULT_TENANT_ID
from missionctl.runtime.agenda import PLAN, WRITE, Work, build_material
from missionctl.runtime.context import ThreadMessage, TurnMaterial
from tests.conftest import Backend
from tests.factories import agent, created, task


def test_a_turns_material_names_the_thread_authors_and_the_tasks_documents(
    api: httpx.Client, backend: Backend
) -> None:
    writer = agent(api, "writer")
    t = task(api, "Draft the launch post", assignee_ids=[writer["agent_id"]])
    other = task(api, "Something else")
    thread = f"/tasks/{t['task_id']}/messages"
    created(
        api.post(thread, json={"content": "Keep it short.", "author_agent_id": writer["agent_id"]})
    )
    created(api.post(thread, json={"content": "Add the launch date."}))
    created(api.post(f"/tasks/{other['task_id']}/messages", json={"content": "Not this one."}))
    first = created(api.post("/documents", json={"title": "Outline", "task_id": t["task_id"]}))
    second = created(api.post("/documents", json={"title": "Draft", "task_id": t["task_id"]}))
    created(api.post("/documents", json={"title": "Elsewhere", "task_id": other["task_id"]}))
    definition = {"agent_id": writer["agent_id"], "name": "writer", "role": "", "instructions": ""}

    def material(mode: str) -> TurnMaterial:
        with backend.db.transaction(DEFAULT_TENANT_ID, write=False) as session:
            return build_material(session, definition, Work(mode, t["task_id"]), [])

    written = material(WRITE)
    assert list(written.thread) == [
        ThreadMessage("writer", "Keep it short."),
        ThreadMessage("person", "Add the launch date."),
    ]
    assert list(written.documents) == [  # newest first
        f"Draft (document {uuid.UUID(second['document_id'])}, version 1)",
        f"Outline (document {uuid.UUID(first['document_id'])}, version 1)",
    ]
    planned = material(PLAN)
    assert list(planned.thread) == []
    assert planned.documents == written.documents
