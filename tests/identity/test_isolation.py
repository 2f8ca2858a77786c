"""Two tenants filled with random data: nothing of one ever shows in the other."""

from __future__ import annotations

import re

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from missionctl.db import new_id
from missionctl.identity.models import TenantRow
from missionctl.permissions import Role
from tests.conftest import Backend, client_for, make_user, reset

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
words = st.text(alphabet="abcdefghij ", min_size=1, max_size=12).map(str.strip).filter(bool)
actions = st.lists(
    st.tuples(st.sampled_from(["agent", "task", "message", "document", "notes", "key"]), words),
    min_size=1,
    max_size=8,
)


def fill(client: httpx.Client, plan: list[tuple[str, str]], tag: str) -> set[str]:
    """Carry out a plan in one tenant; return every id the tenant's objects got."""
    ids: set[str] = set()
    agent = client.post("/agents", json={"name": f"{tag}agent", "role": "R"}).json()
    task = client.post(
        "/tasks", json={"title": f"{tag} base", "assignee_ids": [agent["agent_id"]]}
    ).json()
    ids |= {agent["agent_id"], task["task_id"]}
    version = 0
    for n, (kind, text) in enumerate(plan):
        if kind == "agent":
            body = client.post("/agents", json={"name": f"{tag}a{n}", "role": text}).json()
            ids.add(body["agent_id"])
        elif kind == "task":
            ids.add(
                client.post("/tasks", json={"title": text, "description": "shared words"}).json()[
                    "task_id"
                ]
            )
        elif kind == "message":
            body = client.post(
                f"/tasks/{task['task_id']}/messages", json={"content": f"@{tag}agent {text}"}
            ).json()
            ids.add(body["message_id"])
        elif kind == "document":
            ids.add(
                client.post("/documents", json={"title": text, "content": "shared words"}).json()[
                    "document_id"
                ]
            )
        elif kind == "notes":
            client.put(
                "/state/working-md", json={"notes": text}, headers={"If-Match": str(version)}
            )
            version += 1
        else:
            ids.add(
                client.post("/api-keys", json={"name": text, "role": "viewer"}).json()["api_key_id"]
            )
    return ids


def everything_visible(client: httpx.Client) -> str:
    """The bodies of every list, search, detail and event endpoint, as one text."""
    paths = [
        "/agents",
        "/tasks",
        "/tasks?text=shared",
        "/tasks?limit=200",
        "/documents",
        "/documents?text=shared",
        "/activities?limit=200",
        "/notifications?limit=200",
        "/state/working-md",
        "/state/working-md/versions",
        "/audit?limit=200",
        "/api-keys",
        "/members",
        "/invitations",
        "/auth/me",
    ]
    bodies = [client.get(path).text for path in paths]
    for task_id in {t["task_id"] for t in client.get("/tasks?limit=200").json()["items"]}:
        bodies.append(client.get(f"/tasks/{task_id}").text)
        bodies.append(client.get(f"/tasks/{task_id}/messages").text)
        bodies.append(client.get(f"/activities/task/{task_id}").text)
    return "\n".join(bodies)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(plan_a=actions, plan_b=actions)
def test_no_endpoint_of_one_tenant_shows_an_id_of_the_other(
    server: str, backend: Backend, plan_a: list[tuple[str, str]], plan_b: list[tuple[str, str]]
) -> None:
    reset(backend.db)
    other = new_id()
    with backend.db.transaction(None) as session:
        session.add(TenantRow(tenant_id=other, slug="other", name="Other"))
    _a_user, a_token = make_user(backend, Role.ADMIN)
    _b_user, b_token = make_user(backend, Role.ADMIN, tenant_id=other)
    with client_for(server, a_token) as a, client_for(server, b_token) as b:
        fill(a, plan_a, "a")
        b_ids = fill(b, plan_b, "b") | {str(other)}
        seen = set(UUID.findall(everything_visible(a)))
        assert not seen & b_ids
        for b_id in b_ids - {str(other)}:  # direct access is a 404, never a 403
            for path in (
                f"/tasks/{b_id}",
                f"/agents/{b_id}",
                f"/documents/{b_id}",
                f"/messages/{b_id}",
            ):
                assert a.get(path).status_code == 404
