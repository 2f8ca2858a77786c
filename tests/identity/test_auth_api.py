"""Signing in, tokens, roles and API keys over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import update

from missionctl.db import DEFAULT_TENANT_ID, new_id
from missionctl.identity.models import MembershipRow, TenantRow, UserRow
from missionctl.identity.schemas import Principal
from missionctl.permissions import TABLE, Permission, Role, allowed
from missionctl.web.auth import Need, VerifiedTokens
from tests.conftest import TEST_PASSWORD, Backend, client_for, make_user
from tests.factories import agent, created, ok, problem, task


def login(
    client: httpx.Client, email: str, password: str = TEST_PASSWORD, **extra: str
) -> httpx.Response:
    return client.post("/auth/login", json={"email": email, "password": password, **extra})


def test_every_route_declares_a_permission(api: httpx.Client, backend: Backend) -> None:
    assert backend.app is not None
    undeclared = []
    for route in backend.app.routes:
        # The docs pages (/docs, /) are public HTML outside the API; everything else declares.
        if not isinstance(route, APIRoute) or not route.path.startswith("/api/"):
            continue
        declared = [d.call for d in route.dependant.dependencies if isinstance(d.call, Need)]
        if len(declared) != 1:
            undeclared.append(f"{sorted(route.methods)} {route.path}")
    assert undeclared == []


def test_no_credentials_is_401(anonymous: httpx.Client, api: httpx.Client) -> None:
    problem(anonymous.get("/tasks"), 401, "unauthenticated")
    problem(anonymous.post("/tasks", json={"title": "x"}), 401, "unauthenticated")
    problem(anonymous.get("/tasks", headers={"Authorization": "Basic abc"}), 401, "unauthenticated")
    problem(
        anonymous.get("/tasks", headers={"Authorization": "Bearer nonsense"}),
        401,
        "unauthenticated",
    )
    assert ok(anonymous.get("/health"))["status"] == "ok"


def test_forged_and_expired_tokens_are_refused(
    anonymous: httpx.Client, api: httpx.Client, backend: Backend
) -> None:
    now = datetime.now(UTC)
    claims = {
        "sub": str(uuid.uuid4()),
        "tid": str(DEFAULT_TENANT_ID),
        "ten": "default",
        "role": "admin",
        "typ": "access",
    }
    forged = jwt.encode({**claims, "exp": now + timedelta(minutes=5)}, "w" * 48, algorithm="HS256")
    expired = jwt.encode(
        {**claims, "exp": now - timedelta(seconds=1)},
        backend.settings.secret_key or "",
        algorithm="HS256",
    )
    for token in (forged, expired):
        problem(
            anonymous.get("/tasks", headers={"Authorization": f"Bearer {token}"}),
            401,
            "unauthenticated",
        )


def test_login_me_refresh_logout(
    anonymous: httpx.Client, api: httpx.Client, backend: Backend
) -> None:
    make_user(backend, Role.OPERATOR, "olga@example.com")
    tokens = ok(login(anonymous, "OLGA@example.com"))
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
    me = ok(
        anonymous.get("/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    )
    assert me["kind"] == "user" and me["user"]["email"] == "olga@example.com"
    assert me["role"] == "operator" and me["tenant"]["slug"] == "default"
    rotated = ok(anonymous.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}))
    assert rotated["refresh_token"] != tokens["refresh_token"]
    with client_for(
        str(anonymous.base_url).rstrip("/").removesuffix("/api/v1"), rotated["access_token"]
    ) as olga:
        assert ok(olga.get("/auth/me"))["role"] == "operator"
    assert (
        anonymous.post("/auth/logout", json={"refresh_token": rotated["refresh_token"]}).status_code
        == 204
    )
    problem(
        anonymous.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]}),
        401,
        "unauthenticated",
    )


def test_reusing_a_refresh_token_revokes_the_whole_family(
    anonymous: httpx.Client, api: httpx.Client, backend: Backend
) -> None:
    make_user(backend, Role.VIEWER, "vic@example.com")
    first = ok(login(anonymous, "vic@example.com"))
    second = ok(anonymous.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}))
    # The first token is replayed (stolen?): refused, and the legitimate newer one dies too.
    problem(
        anonymous.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}),
        401,
        "unauthenticated",
    )
    problem(
        anonymous.post("/auth/refresh", json={"refresh_token": second["refresh_token"]}),
        401,
        "unauthenticated",
    )
    problem(
        anonymous.post("/auth/refresh", json={"refresh_token": "mcr_unknown"}),
        401,
        "unauthenticated",
    )


def test_failed_logins_slow_down_and_lock(
    anonymous: httpx.Client, api: httpx.Client, backend: Backend
) -> None:
    make_user(backend, Role.VIEWER, "eve@example.com")
    for _ in range(3):
        problem(login(anonymous, "eve@example.com", "wrong password!"), 401, "unauthenticated")
    locked = problem(login(anonymous, "eve@example.com"), 429, "too_many_attempts")
    assert locked["retry_after"] >= 1
    problem(
        login(anonymous, "nobody@example.com"), 401, "unauthenticated"
    )  # same answer as a wrong password
    with backend.db.transaction(None) as session:  # time passes
        session.execute(
            update(UserRow).where(UserRow.email == "eve@example.com").values(locked_until=None)
        )
    ok(login(anonymous, "eve@example.com"))
    for _ in range(3):  # the count started again after the success
        problem(login(anonymous, "eve@example.com", "wrong password!"), 401, "unauthenticated")
    problem(login(anonymous, "eve@example.com"), 429, "too_many_attempts")


@pytest.mark.parametrize(
    ("role", "can_write_tasks", "can_write_agents", "can_manage_keys"),
    [
        (Role.ADMIN, True, True, True),
        (Role.DEVELOPER, True, True, False),
        (Role.OPERATOR, True, False, False),
        (Role.VIEWER, False, False, False),
    ],
)
def test_roles(
    server: str,
    api: httpx.Client,
    backend: Backend,
    role: Role,
    can_write_tasks: bool,
    can_write_agents: bool,
    can_manage_keys: bool,
) -> None:
    t = task(api, "existing")
    _user_id, token = make_user(backend, role)
    with client_for(server, token) as client:
        assert ok(client.get("/tasks"))["items"][0]["task_id"] == t["task_id"]  # everyone reads
        ok(client.get("/activities"))
        write = client.post("/tasks", json={"title": "new"})
        assert write.status_code == (201 if can_write_tasks else 403), write.text
        agents = client.post("/agents", json={"name": f"a{role.value}", "role": "R"})
        assert agents.status_code == (201 if can_write_agents else 403), agents.text
        keys = client.get("/api-keys")
        assert keys.status_code == (200 if can_manage_keys else 403), keys.text
        if not can_write_tasks:
            problem(
                client.post(f"/tasks/{t['task_id']}/status", json={"status": "blocked"}),
                403,
                "forbidden",
            )
            problem(
                client.put("/state/working-md", json={"notes": "x"}, headers={"If-Match": "0"}),
                403,
                "forbidden",
            )


def test_role_api_keys(server: str, api: httpx.Client, anonymous: httpx.Client) -> None:
    made = created(api.post("/api-keys", json={"name": "ci", "role": "operator"}))
    assert made["key"].startswith("mck_") and made["prefix"] in made["key"]
    listed = ok(api.get("/api-keys"))
    assert [k["prefix"] for k in listed] == [made["prefix"]]
    assert "key" not in listed[0]
    with client_for(server, made["key"]) as ci:
        assert created(ci.post("/tasks", json={"title": "from ci"}))["title"] == "from ci"
        problem(ci.post("/agents", json={"name": "x", "role": "R"}), 403, "forbidden")
        me = ok(ci.get("/auth/me"))
        assert me["kind"] == "api_key" and me["role"] == "operator"
        assert ok(api.get("/api-keys"))[0]["last_used_at"] is not None
        ok(api.delete(f"/api-keys/{made['api_key_id']}"))
        problem(ci.get("/tasks"), 401, "unauthenticated")
    problem(
        anonymous.get("/tasks", headers={"Authorization": f"Bearer {made['key']}x"}),
        401,
        "unauthenticated",
    )
    problem(
        api.post(
            "/api-keys", json={"name": "both", "role": "admin", "agent_id": str(uuid.uuid4())}
        ),
        422,
        "invalid_input",
    )
    problem(api.post("/api-keys", json={"name": "neither"}), 422, "invalid_input")


def test_expired_keys_are_refused(server: str, api: httpx.Client) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    made = created(
        api.post("/api-keys", json={"name": "old", "role": "viewer", "expires_at": past})
    )
    with client_for(server, made["key"]) as old:
        problem(old.get("/tasks"), 401, "unauthenticated")


def test_agent_keys_act_as_their_agent(server: str, api: httpx.Client) -> None:
    writer, other = agent(api, "writer"), agent(api, "other")
    made = created(
        api.post("/api-keys", json={"name": "writer key", "agent_id": writer["agent_id"]})
    )
    t = task(api, "draft", assignee_ids=[writer["agent_id"]])
    with client_for(server, made["key"]) as bot:
        msg = created(bot.post(f"/tasks/{t['task_id']}/messages", json={"content": "on it"}))
        assert msg["author_kind"] == "agent" and msg["author_agent_id"] == writer["agent_id"]
        assert ok(bot.post(f"/agents/{writer['agent_id']}/heartbeat"))["has_work"] is True
        problem(bot.post(f"/agents/{other['agent_id']}/heartbeat"), 403, "forbidden")
        problem(bot.post("/agents", json={"name": "clone", "role": "R"}), 403, "forbidden")
        problem(bot.get("/api-keys"), 403, "forbidden")
        moved = ok(bot.post(f"/tasks/{t['task_id']}/status", json={"status": "in_progress"}))
        assert moved["status"] == "in_progress"
    events = ok(api.get(f"/activities/task/{t['task_id']}"))["items"]
    assert events[0]["actor_kind"] == "agent" and events[0]["actor_id"] == writer["agent_id"]


def test_a_user_in_two_tenants_picks_one_per_request(
    server: str, api: httpx.Client, backend: Backend
) -> None:
    other_id = new_id()
    with backend.db.transaction(None) as session:
        session.add(TenantRow(tenant_id=other_id, slug="acme", name="Acme"))
    user_id, token = make_user(backend, Role.ADMIN, "multi@example.com")
    with backend.db.transaction(None) as session:
        session.add(MembershipRow(tenant_id=other_id, user_id=user_id, role=Role.VIEWER.value))
    home = task(api, "home task")
    with client_for(server, token) as client:
        assert [t["title"] for t in ok(client.get("/tasks"))["items"]] == ["home task"]
        acme = {"X-Tenant": "acme"}
        assert ok(client.get("/tasks", headers=acme))["items"] == []
        assert ok(client.get("/auth/me", headers=acme))["role"] == "viewer"
        mine = ok(client.get("/auth/me"))["memberships"]  # what a tenant switcher offers
        assert sorted((m["tenant"]["slug"], m["role"]) for m in mine) == [
            ("acme", "viewer"),
            ("default", "admin"),
        ]
        problem(client.post("/tasks", json={"title": "x"}, headers=acme), 403, "forbidden")
        problem(client.get(f"/tasks/{home['task_id']}", headers=acme), 404, "not_found")
        problem(client.get("/tasks", headers={"X-Tenant": "nowhere"}), 404, "not_found")
    tokens = ok(login(api, "multi@example.com", tenant="acme"))
    with client_for(server, tokens["access_token"]) as client:
        assert ok(client.get("/auth/me"))["tenant"]["slug"] == "acme"


def test_cached_reads_still_need_valid_credentials(
    server: str, api: httpx.Client, anonymous: httpx.Client, backend: Backend
) -> None:
    task(api, "secret plans")
    assert ok(api.get("/tasks"))["items"][0]["title"] == "secret plans"
    assert ok(api.get("/tasks"))["items"][0]["title"] == "secret plans"  # now cached (SQLite)
    problem(anonymous.get("/tasks"), 401, "unauthenticated")
    problem(
        anonymous.get("/tasks", headers={"Authorization": "Bearer not.a.jwt"}),
        401,
        "unauthenticated",
    )
    _user_id, viewer = make_user(backend, Role.VIEWER)
    with client_for(server, viewer) as client:
        assert ok(client.get("/tasks"))["items"][0]["title"] == "secret plans"


def test_permission_table_is_complete() -> None:
    for permission in Permission:
        if permission is not Permission.PUBLIC:
            assert Role.ADMIN in TABLE[permission], permission
    # Viewers read and nothing else; agents never administer.
    viewer_may = {p for p, roles in TABLE.items() if Role.VIEWER in roles}
    assert viewer_may == {
        Permission.AUTHENTICATED,
        Permission.BOARD_READ,
        Permission.JOBS_READ,
        Permission.MODELS_READ,
        Permission.WORKFLOWS_READ,
    }
    # Running workflows is an operator's work; defining them is an architect's.
    assert allowed(Role.OPERATOR, Permission.WORKFLOWS_RUN)
    assert not allowed(Role.VIEWER, Permission.WORKFLOWS_RUN)
    assert not allowed(Role.OPERATOR, Permission.WORKFLOWS_WRITE)
    # Spending money on models is work, not reading.
    assert not allowed(Role.VIEWER, Permission.MODELS_USE)
    assert allowed(Role.AGENT, Permission.MODELS_USE)
    assert not allowed(Role.OPERATOR, Permission.BUDGETS_MANAGE)
    assert not allowed(Role.AGENT, Permission.API_KEYS_MANAGE)
    assert not allowed(Role.AGENT, Permission.AGENTS_WRITE)
    assert not allowed(Role.OPERATOR, Permission.AGENTS_WRITE)


def test_verified_tokens_are_forgotten_when_they_expire() -> None:
    tokens = VerifiedTokens(max_entries=2)
    live = Principal(
        tenant_id=DEFAULT_TENANT_ID,
        tenant_slug="default",
        role=Role.VIEWER,
        user_id=uuid.uuid4(),
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )
    tokens.put("live", live)
    tokens.put(
        "dead", live.model_copy(update={"expires_at": datetime.now(UTC) - timedelta(seconds=1)})
    )
    assert tokens.get("live") == live
    assert tokens.get("dead") is None
    tokens.put("third", live)
    tokens.put("fourth", live)  # bounded: the least recently used goes
    assert tokens.get("live") is None
