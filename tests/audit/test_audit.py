"""The audit trail: what is recorded, who may read it, and that tampering is caught."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from missionctl.audit.chain import GENESIS, entry_hash, verify
from missionctl.audit.models import AuditRow
from missionctl.permissions import Role
from tests.conftest import TEST_PASSWORD, Backend, client_for, make_user
from tests.factories import agent, created, ok, problem

MISSIONCTL = Path(sys.executable).parent / "missionctl"


def verify_with_cli(backend: Backend) -> subprocess.CompletedProcess[str]:
    """`missionctl audit verify` as a separate process on the backend's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MISSIONCTL_")}
    env["MISSIONCTL_DATA_DIR"] = str(backend.settings.data_dir)
    env["MISSIONCTL_DATABASE_URL"] = backend.settings.resolved_database_url
    return subprocess.run(
        [str(MISSIONCTL), "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def chain(length: int) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    previous = GENESIS
    for audit_id in range(1, length + 1):
        entry: dict[str, object] = {
            "audit_id": audit_id,
            "tenant_id": None,
            "actor_kind": "system",
            "actor_id": None,
            "action": f"test.{audit_id}",
            "subject_kind": None,
            "subject_id": None,
            "details": {"n": audit_id},
            "created_at": "2026-11-23T00:00:00+00:00",
            "prev_hash": previous,
        }
        entry["entry_hash"] = previous = entry_hash(entry)
        entries.append(entry)
    return entries


@given(length=st.integers(min_value=2, max_value=30), data=st.data())
def test_any_single_tampering_is_caught_at_its_place(length: int, data: st.DataObject) -> None:
    entries = chain(length)
    assert verify(entries) is None
    where = data.draw(st.integers(min_value=0, max_value=length - 1))
    how = data.draw(st.sampled_from(["alter", "delete", "insert", "swap"]))
    tampered = [dict(e) for e in entries]
    if how == "alter":
        tampered[where]["details"] = {"n": -1}
        expected = where + 1
    elif how == "delete":
        del tampered[where]
        expected = where + 2 if where < length - 1 else None
    elif how == "insert":
        forged = dict(tampered[where], action="forged")
        forged["entry_hash"] = entry_hash(forged)
        tampered.insert(where + 1, forged)
        expected = where + 1
    else:
        other = (where + 1) % length
        tampered[where], tampered[other] = tampered[other], tampered[where]
        # The first swapped place now holds the later entry: that is the one named.
        expected = max(where, other) + 1 if where != other else None
    found = verify(tampered)
    if expected is None:  # deleting the last entry is only visible against an outside copy
        return
    assert found is not None and found.audit_id == expected


def test_sign_ins_keys_and_agents_are_recorded(
    api: httpx.Client, anonymous: httpx.Client, backend: Backend
) -> None:
    make_user(backend, Role.VIEWER, "vera@example.com")
    problem(
        anonymous.post("/auth/login", json={"email": "vera@example.com", "password": "nope nope"}),
        401,
        "unauthenticated",
    )
    ok(anonymous.post("/auth/login", json={"email": "vera@example.com", "password": TEST_PASSWORD}))
    key = created(api.post("/api-keys", json={"name": "ci", "role": "viewer"}))
    ok(api.delete(f"/api-keys/{key['api_key_id']}"))
    agent(api, "writer")
    actions = [e["action"] for e in ok(api.get("/audit"))["items"]]
    assert actions == [
        "agent.created",
        "api_key.revoked",
        "api_key.created",
        "auth.login_succeeded",
    ]
    # The failed sign-in has no tenant yet: it is in the chain, not in a tenant's view.
    report = ok(api.get("/audit/verify"))
    assert report["intact"] is True and report["entries"] == 5
    auth_only = ok(api.get("/audit", params={"action": "auth.*"}))["items"]
    assert [e["action"] for e in auth_only] == ["auth.login_succeeded"]


def test_audit_is_for_admins_and_exports_csv(
    server: str, api: httpx.Client, backend: Backend
) -> None:
    agent(api, "writer")
    response = api.get("/audit", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0]["action"] == "agent.created" and '"name": "writer"' in rows[0]["details"]
    _user_id, token = make_user(backend, Role.OPERATOR)
    with client_for(server, token) as operator:
        problem(operator.get("/audit"), 403, "forbidden")


@pytest.mark.parametrize("tampering", ["alter", "delete", "insert", "reorder"])
def test_tampering_in_the_database_is_caught(
    api: httpx.Client, backend: Backend, tampering: str
) -> None:
    for name in ("a1", "a2", "a3"):
        agent(api, name)
    assert ok(api.get("/audit/verify"))["intact"] is True
    with backend.db.transaction(None) as session:
        if tampering == "alter":
            session.execute(
                update(AuditRow).where(AuditRow.audit_id == 2).values(details={"name": "evil"})
            )
        elif tampering == "delete":
            session.execute(delete(AuditRow).where(AuditRow.audit_id == 2))
        elif tampering == "insert":  # a forged entry slipped in at the end, even well hashed
            last = session.get(AuditRow, 3)
            assert last is not None
            forged = {c.key: getattr(last, c.key) for c in AuditRow.__table__.columns}
            forged.update(audit_id=4, action="agent.created", prev_hash="f" * 64)
            session.add(AuditRow(**forged))
        else:
            session.execute(update(AuditRow).where(AuditRow.audit_id == 1).values(audit_id=99))
            session.execute(update(AuditRow).where(AuditRow.audit_id == 2).values(audit_id=1))
            session.execute(update(AuditRow).where(AuditRow.audit_id == 99).values(audit_id=2))
    report = ok(api.get("/audit/verify"))
    assert report["intact"] is False
    # altered: 2 itself; deleted: 3 stands where 2 should; inserted: 4 links to nothing;
    # reordered: 1 holds 2's content.
    expected = {"alter": 2, "delete": 3, "insert": 4, "reorder": 1}[tampering]
    assert report["first_break"]["audit_id"] == expected
    result = verify_with_cli(backend)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: audit entry {report['first_break']['audit_id']} ")


def test_verify_passes_on_an_intact_chain(api: httpx.Client, backend: Backend) -> None:
    agent(api, "writer")
    result = verify_with_cli(backend)
    assert result.returncode == 0, result.stderr
    assert "audit chain intact: 1 entries" in result.stdout
    with backend.db.transaction(None, write=False) as session:
        assert session.scalar(select(AuditRow.prev_hash).where(AuditRow.audit_id == 1)) == GENESIS
