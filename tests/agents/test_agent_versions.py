"""Versioned agent definitions over HTTP: history, diff, rollback, permissions, tenants."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command

from missionctl import migrations
from missionctl.db import DEFAULT_TENANT_ID, JSONType, UTCDateTime, make_engine, new_id, utcnow
from missionctl.identity.models import TenantRow
from missionctl.permissions import Role
from tests.conftest import (
    BACKENDS,
    Backend,
    client_for,
    drop_postgres_database,
    make_user,
    postgres_database,
)
from tests.factories import agent, ok, problem

MISSING_AGENT = "00000000-0000-7000-8000-000000000999"


def versions(api: httpx.Client, agent_id: str) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = ok(api.get(f"/agents/{agent_id}/versions"))
    return body


def evolved(api: httpx.Client) -> dict[str, Any]:
    """An agent at version 3: v1 created, v2 a new role, v3 new instructions and model."""
    body = agent(api, "scout", capabilities=["research"], instructions="Find sources.\nBe brief.")
    ok(api.patch(f"/agents/{body['agent_id']}", json={"role": "Senior scout"}))
    return ok(  # type: ignore[no-any-return]
        api.patch(
            f"/agents/{body['agent_id']}",
            json={"instructions": "Find sources.\nCite them.", "model": "gpt-4o-mini"},
        )
    )


def test_creating_an_agent_saves_version_1(api: httpx.Client) -> None:
    body = agent(api, "scout", capabilities=["research"], heartbeat_interval_seconds=60)
    assert body["version"] == 1
    (first,) = versions(api, body["agent_id"])
    assert first["version"] == 1
    assert first["agent_id"] == body["agent_id"]
    for field in ("name", "role", "capabilities", "instructions", "model"):
        assert first[field] == body[field], field
    assert first["heartbeat_interval_seconds"] == 60
    assert first["created_by_kind"] == "user"
    assert first["created_by_user_id"] is not None
    assert first["created_by_agent_id"] is None
    assert first["note"] is None


def test_definition_changes_make_versions_newest_first(api: httpx.Client) -> None:
    body = evolved(api)
    assert body["version"] == 3
    listed = versions(api, body["agent_id"])
    assert [v["version"] for v in listed] == [3, 2, 1]
    assert [v["role"] for v in listed] == ["Senior scout", "Senior scout", "Scout"]
    assert [v["model"] for v in listed] == ["gpt-4o-mini", "offline", "offline"]
    assert ok(api.get(f"/agents/{body['agent_id']}"))["version"] == 3


def test_status_heartbeats_and_no_op_updates_make_no_version(api: httpx.Client) -> None:
    body = agent(api, "scout", role="Scout")
    agent_id = body["agent_id"]
    assert ok(api.patch(f"/agents/{agent_id}", json={"status": "blocked"}))["version"] == 1
    assert ok(api.put(f"/agents/{agent_id}", json={"role": "Scout"}))["version"] == 1
    ok(api.post(f"/agents/{agent_id}/heartbeat", json={"status": "active"}))
    assert [v["version"] for v in versions(api, agent_id)] == [1]
    # Status and definition together: the definition counts.
    both = ok(api.patch(f"/agents/{agent_id}", json={"status": "idle", "role": "Lead scout"}))
    assert both["version"] == 2 and both["status"] == "idle"
    assert [v["version"] for v in versions(api, agent_id)] == [2, 1]


def test_get_one_version(api: httpx.Client) -> None:
    body = evolved(api)
    first = ok(api.get(f"/agents/{body['agent_id']}/versions/1"))
    assert first["version"] == 1
    assert first["role"] == "Scout"
    assert first["instructions"] == "Find sources.\nBe brief."
    assert first == versions(api, body["agent_id"])[-1]


def test_unknown_versions_and_agents_are_404(api: httpx.Client) -> None:
    body = evolved(api)
    agent_id = body["agent_id"]
    problem(api.get(f"/agents/{agent_id}/versions/4"), 404, "not_found")
    problem(api.get(f"/agents/{MISSING_AGENT}/versions"), 404, "not_found")
    problem(api.get(f"/agents/{MISSING_AGENT}/versions/1"), 404, "not_found")
    problem(api.get(f"/agents/{agent_id}/diff", params={"from": 1, "to": 9}), 404, "not_found")
    problem(api.post(f"/agents/{agent_id}/rollback", json={"version": 9}), 404, "not_found")
    problem(api.post(f"/agents/{MISSING_AGENT}/rollback", json={"version": 1}), 404, "not_found")


@pytest.mark.parametrize("bad", ["0", "-1", "x", "2147483648", "99999999999999999999"])
def test_bad_version_numbers_are_validation_errors(api: httpx.Client, bad: str) -> None:
    agent_id = agent(api, "scout")["agent_id"]
    problem(api.get(f"/agents/{agent_id}/versions/{bad}"), 422, "validation_failed")
    problem(api.get(f"/agents/{agent_id}/diff?from=1&to={bad}"), 422, "validation_failed")
    body: Any = bad if not bad.lstrip("-").isdigit() else int(bad)
    problem(
        api.post(f"/agents/{agent_id}/rollback", json={"version": body}), 422, "validation_failed"
    )


def test_diff_lists_changed_fields_with_a_unified_diff_of_instructions(
    api: httpx.Client,
) -> None:
    agent_id = evolved(api)["agent_id"]
    diff = ok(api.get(f"/agents/{agent_id}/diff", params={"from": 1, "to": 3}))
    assert diff["agent_id"] == agent_id
    assert (diff["from_version"], diff["to_version"]) == (1, 3)
    assert list(diff["changes"]) == ["role", "instructions", "model"]
    assert diff["changes"]["role"] == {"old": "Scout", "new": "Senior scout", "unified_diff": None}
    assert diff["changes"]["model"]["old"] == "offline"
    assert diff["changes"]["model"]["new"] == "gpt-4o-mini"
    instructions = diff["changes"]["instructions"]
    assert instructions["old"] == "Find sources.\nBe brief."
    assert instructions["new"] == "Find sources.\nCite them."
    assert instructions["unified_diff"].splitlines() == [
        "--- v1/instructions",
        "+++ v3/instructions",
        "@@ -1,2 +1,2 @@",
        " Find sources.",
        "-Be brief.",
        "+Cite them.",
    ]
    backwards = ok(api.get(f"/agents/{agent_id}/diff", params={"from": 3, "to": 2}))
    assert list(backwards["changes"]) == ["instructions", "model"]
    assert backwards["changes"]["model"] == {
        "old": "gpt-4o-mini",
        "new": "offline",
        "unified_diff": None,
    }
    same = ok(api.get(f"/agents/{agent_id}/diff", params={"from": 2, "to": 2}))
    assert same["changes"] == {}


def test_diff_needs_both_versions(api: httpx.Client) -> None:
    agent_id = agent(api, "scout")["agent_id"]
    problem(api.get(f"/agents/{agent_id}/diff", params={"from": 1}), 422, "validation_failed")
    problem(api.get(f"/agents/{agent_id}/diff"), 422, "validation_failed")


def test_rollback_makes_a_new_version_and_keeps_history(api: httpx.Client) -> None:
    agent_id = evolved(api)["agent_id"]
    before = versions(api, agent_id)
    rolled = ok(api.post(f"/agents/{agent_id}/rollback", json={"version": 1}))
    assert rolled["version"] == 4
    assert rolled["role"] == "Scout"
    assert rolled["instructions"] == "Find sources.\nBe brief."
    assert rolled["model"] == "offline"
    assert ok(api.get(f"/agents/{agent_id}")) == rolled
    after = versions(api, agent_id)
    assert after[1:] == before  # nothing rewritten
    newest = after[0]
    assert newest["version"] == 4
    assert newest["note"] == "rollback to v1"
    assert newest["created_by_kind"] == "user"
    definition = ("name", "role", "capabilities", "instructions", "model")
    assert {f: newest[f] for f in definition} == {f: before[-1][f] for f in definition}
    assert ok(api.get(f"/agents/{agent_id}/diff", params={"from": 1, "to": 4}))["changes"] == {}


def test_rollback_records_an_event_and_an_audit_entry(api: httpx.Client) -> None:
    agent_id = evolved(api)["agent_id"]
    ok(api.post(f"/agents/{agent_id}/rollback", json={"version": 2}))
    events = ok(api.get(f"/activities/agent/{agent_id}"))["items"]
    assert events[0]["event_type"] == "agent.rolled_back"
    assert events[0]["payload"]["to_version"] == 2
    assert events[0]["payload"]["version"] == 4
    audit = ok(api.get("/audit", params={"action": "agent.rolled_back"}))["items"]
    assert [(a["subject_id"], a["details"]) for a in audit] == [
        (agent_id, {"from_version": 3, "to_version": 2, "version": 4})
    ]


def test_rollback_to_the_current_definition_changes_nothing(api: httpx.Client) -> None:
    agent_id = evolved(api)["agent_id"]
    same = ok(api.post(f"/agents/{agent_id}/rollback", json={"version": 3}))
    assert same["version"] == 3
    assert [v["version"] for v in versions(api, agent_id)] == [3, 2, 1]


def test_rollback_to_a_name_now_taken_is_refused(api: httpx.Client) -> None:
    scout = agent(api, "scout")
    ok(api.patch(f"/agents/{scout['agent_id']}", json={"name": "ranger"}))
    # Someone else takes the old name (the renamed agent kept its session key).
    agent(api, "scout", session_key="agent:scout:second")
    body = problem(
        api.post(f"/agents/{scout['agent_id']}/rollback", json={"version": 1}),
        409,
        "already_exists",
    )
    assert body["field"] == "name"
    assert "scout" in body["detail"] and "version 1" in body["detail"]
    current = ok(api.get(f"/agents/{scout['agent_id']}"))
    assert (current["name"], current["version"]) == ("ranger", 2)
    assert [v["version"] for v in versions(api, scout["agent_id"])] == [2, 1]


def test_rollback_may_bring_back_the_agents_own_old_name(api: httpx.Client) -> None:
    scout = agent(api, "scout")
    ok(api.patch(f"/agents/{scout['agent_id']}", json={"name": "ranger"}))
    rolled = ok(api.post(f"/agents/{scout['agent_id']}/rollback", json={"version": 1}))
    assert (rolled["name"], rolled["version"]) == ("scout", 3)


def test_deleting_an_agent_deletes_its_versions(api: httpx.Client) -> None:
    agent_id = evolved(api)["agent_id"]
    assert api.delete(f"/agents/{agent_id}").status_code == 204
    problem(api.get(f"/agents/{agent_id}/versions"), 404, "not_found")
    again = agent(api, "scout")  # name and session key are free, history starts afresh
    assert [v["version"] for v in versions(api, again["agent_id"])] == [1]


@pytest.fixture
def viewer(api: httpx.Client, server: str, backend: Backend) -> Iterator[httpx.Client]:
    """A viewer of the default tenant (after `api` emptied the database)."""
    _user_id, token = make_user(backend, Role.VIEWER)
    with client_for(server, token) as client:
        yield client


def test_a_viewer_reads_versions_but_cannot_roll_back(
    api: httpx.Client, viewer: httpx.Client
) -> None:
    agent_id = evolved(api)["agent_id"]
    assert [v["version"] for v in versions(viewer, agent_id)] == [3, 2, 1]
    assert ok(viewer.get(f"/agents/{agent_id}/versions/2"))["role"] == "Senior scout"
    ok(viewer.get(f"/agents/{agent_id}/diff", params={"from": 1, "to": 2}))
    problem(viewer.post(f"/agents/{agent_id}/rollback", json={"version": 1}), 403, "forbidden")
    assert ok(api.get(f"/agents/{agent_id}"))["version"] == 3


@pytest.fixture
def stranger(api: httpx.Client, server: str, backend: Backend) -> Iterator[httpx.Client]:
    """An admin of another tenant."""
    tenant_id = new_id()
    with backend.db.transaction(None) as session:
        session.add(TenantRow(tenant_id=tenant_id, slug=f"t-{tenant_id.hex[:8]}", name="Other"))
    _user_id, token = make_user(backend, Role.ADMIN, tenant_id=tenant_id)
    with client_for(server, token) as client:
        yield client


def test_another_tenant_sees_no_versions(api: httpx.Client, stranger: httpx.Client) -> None:
    agent_id = evolved(api)["agent_id"]
    problem(stranger.get(f"/agents/{agent_id}/versions"), 404, "not_found")
    problem(stranger.get(f"/agents/{agent_id}/versions/1"), 404, "not_found")
    problem(stranger.get(f"/agents/{agent_id}/diff?from=1&to=2"), 404, "not_found")
    problem(stranger.post(f"/agents/{agent_id}/rollback", json={"version": 1}), 404, "not_found")
    # Their own agent of the same name has a history of its own.
    theirs = agent(stranger, "scout")
    assert [v["version"] for v in versions(stranger, theirs["agent_id"])] == [1]
    assert ok(api.get(f"/agents/{agent_id}"))["version"] == 3


# --- the migration that introduced versions -----------------------------------------------------

# The two tables as they were at revision 0009, typed so that Core binds ids and JSON per dialect.
AGENTS_0009 = sa.table(
    "agents",
    *(sa.column(name, sa.Uuid()) for name in ("agent_id", "tenant_id")),
    *(sa.column(name, sa.String()) for name in ("name", "role", "status", "model")),
    *(sa.column(name, sa.String()) for name in ("instructions", "session_key")),
    sa.column("capabilities", JSONType),
    sa.column("heartbeat_interval_seconds", sa.Integer()),
    *(sa.column(name, UTCDateTime()) for name in ("created_at", "updated_at")),
    sa.column("next_heartbeat_at", UTCDateTime()),
)
MEMORIES_0009 = sa.table(
    "memories",
    *(sa.column(name, sa.Uuid()) for name in ("memory_id", "agent_id", "tenant_id")),
    *(sa.column(name, sa.String()) for name in ("kind", "title", "content")),
    sa.column("tags", JSONType),
    sa.column("importance", sa.Integer()),
    *(sa.column(name, UTCDateTime()) for name in ("created_at", "updated_at")),
)


@pytest.fixture(params=BACKENDS)
def engine_at_0009(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database migrated to the revision before versions, with two agents in it."""
    if request.param == "postgres":
        url = postgres_database(f"mc_versions_{uuid.uuid4().hex[:12]}")
    else:
        url = f"sqlite:///{tmp_path / 'missionctl.db'}"
    engine = make_engine(url, pool_size=2)
    try:
        migrations.upgrade(engine, "0009")
        yield engine
    finally:
        engine.dispose()
        if request.param == "postgres":
            drop_postgres_database(url)


def old_agent(connection: sa.Connection, name: str, capabilities: list[str]) -> uuid.UUID:
    """An agent row as 0009 stored it, with a memory that cascades from it."""
    agent_id, now = new_id(), utcnow()
    connection.execute(
        sa.insert(AGENTS_0009).values(
            agent_id=agent_id,
            tenant_id=DEFAULT_TENANT_ID,
            name=name,
            role=name.capitalize(),
            status="idle",
            model="offline",
            instructions=f"Be a good {name}.",
            session_key=f"agent:{name}:main",
            capabilities=capabilities,
            heartbeat_interval_seconds=120,
            created_at=now,
            updated_at=now,
            next_heartbeat_at=now,
        )
    )
    connection.execute(
        sa.insert(MEMORIES_0009).values(
            memory_id=new_id(),
            agent_id=agent_id,
            tenant_id=DEFAULT_TENANT_ID,
            kind="lesson",
            title=f"{name} remembers",
            content="Something worth keeping.",
            tags=[],
            importance=3,
            created_at=now,
            updated_at=now,
        )
    )
    return agent_id


def test_the_migration_saves_every_existing_agent_as_version_1(
    engine_at_0009: sa.Engine,
) -> None:
    with engine_at_0009.begin() as connection:
        scout = old_agent(connection, "scout", ["research", "web"])
        old_agent(connection, "scribe", [])
    migrations.upgrade(engine_at_0009, "0010")
    with engine_at_0009.connect() as connection:
        agents = connection.execute(sa.text("SELECT name, version FROM agents ORDER BY name"))
        assert agents.all() == [("scout", 1), ("scribe", 1)]
        versions_table = sa.Table("agent_versions", sa.MetaData(), autoload_with=connection)
        rows = connection.execute(
            sa.select(versions_table).order_by(versions_table.c.name)
        ).mappings()
        saved = [dict(row) for row in rows]
        # Rebuilding `agents` (batch mode on SQLite) would have cascaded into its memories.
        memories = connection.execute(sa.text("SELECT count(*) FROM memories")).scalar_one()
    assert memories == 2
    assert [(v["name"], v["version"], v["created_by_kind"]) for v in saved] == [
        ("scout", 1, "system"),
        ("scribe", 1, "system"),
    ]
    first = saved[0]
    assert uuid.UUID(str(first["agent_id"])) == scout
    assert first["role"] == "Scout" and first["instructions"] == "Be a good scout."
    assert first["heartbeat_interval_seconds"] == 120 and first["model"] == "offline"
    capabilities = first["capabilities"]
    assert (capabilities if isinstance(capabilities, list) else json.loads(capabilities)) == [
        "research",
        "web",
    ]
    assert first["created_by_agent_id"] is None and first["created_by_user_id"] is None


def test_downgrading_the_migration_keeps_the_agents_and_what_hangs_off_them(
    engine_at_0009: sa.Engine,
) -> None:
    with engine_at_0009.begin() as connection:
        old_agent(connection, "scout", ["research"])
    migrations.upgrade(engine_at_0009, "0010")
    config = migrations.alembic_config(engine_at_0009.url.render_as_string(hide_password=False))
    with engine_at_0009.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0009")
    inspector = sa.inspect(engine_at_0009)
    assert "agent_versions" not in inspector.get_table_names()
    assert "version" not in {c["name"] for c in inspector.get_columns("agents")}
    with engine_at_0009.connect() as connection:
        assert connection.execute(sa.text("SELECT name FROM agents")).scalars().all() == ["scout"]
        assert connection.execute(sa.text("SELECT count(*) FROM memories")).scalar_one() == 1
