"""Members and invitations over HTTP: roles change, people leave, invitees join."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from missionctl.identity.models import InvitationRow
from missionctl.permissions import Role
from tests.conftest import TEST_PASSWORD, Backend, client_for, make_user
from tests.factories import created, ok, problem


def test_invite_accept_and_sign_in(server: str, api: httpx.Client, anonymous: httpx.Client) -> None:
    invitation = created(
        api.post("/invitations", json={"email": "New@Example.com", "role": "operator"})
    )
    assert invitation["email"] == "new@example.com"
    assert invitation["accept_path"] == f"/invite/{invitation['token']}"
    listed = ok(api.get("/invitations"))
    assert [i["invitation_id"] for i in listed] == [invitation["invitation_id"]]
    assert "token" not in listed[0]
    tokens = ok(
        anonymous.post(
            "/auth/accept-invitation",
            json={
                "token": invitation["token"],
                "password": "a long new password",
                "display_name": "Nia",
            },
        )
    )
    with client_for(server, tokens["access_token"]) as nia:
        me = ok(nia.get("/auth/me"))
        assert me["role"] == "operator" and me["user"]["display_name"] == "Nia"
    # Used up: a second use is refused; the new password signs in.
    problem(
        anonymous.post(
            "/auth/accept-invitation",
            json={"token": invitation["token"], "password": "a long new password"},
        ),
        401,
        "unauthenticated",
    )
    ok(
        anonymous.post(
            "/auth/login", json={"email": "new@example.com", "password": "a long new password"}
        )
    )
    assert ok(api.get("/invitations"))[0]["accepted_at"] is not None
    actions = [
        e["action"] for e in ok(api.get("/audit", params={"action": "invitation.*"}))["items"]
    ]
    assert actions == ["invitation.accepted", "invitation.created"]


def test_revoked_expired_and_wrong_password_invitations(
    api: httpx.Client, anonymous: httpx.Client, backend: Backend
) -> None:
    revoked = created(api.post("/invitations", json={"email": "r@example.com", "role": "viewer"}))
    ok(api.delete(f"/invitations/{revoked['invitation_id']}"))
    problem(
        anonymous.post(
            "/auth/accept-invitation",
            json={"token": revoked["token"], "password": "long enough password"},
        ),
        401,
        "unauthenticated",
    )
    expired = created(api.post("/invitations", json={"email": "e@example.com", "role": "viewer"}))
    with backend.db.transaction(None) as session:
        session.execute(
            update(InvitationRow).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    problem(
        anonymous.post(
            "/auth/accept-invitation",
            json={"token": expired["token"], "password": "long enough password"},
        ),
        401,
        "unauthenticated",
    )
    # An existing user must prove their own password to join.
    make_user(backend, Role.VIEWER, "known@example.com")
    existing = created(
        api.post("/invitations", json={"email": "known@example.com", "role": "developer"})
    )
    problem(
        anonymous.post(
            "/auth/accept-invitation",
            json={"token": existing["token"], "password": "not my password!"},
        ),
        401,
        "unauthenticated",
    )
    ok(
        anonymous.post(
            "/auth/accept-invitation", json={"token": existing["token"], "password": TEST_PASSWORD}
        )
    )
    problem(
        anonymous.post(
            "/auth/accept-invitation",
            json={"token": "mci_nope", "password": "long enough password"},
        ),
        401,
        "unauthenticated",
    )


def test_roles_change_and_members_leave(api: httpx.Client, backend: Backend) -> None:
    user_id, _token = make_user(backend, Role.VIEWER, "val@example.com")
    emails = {m["email"]: m["role"] for m in ok(api.get("/members"))}
    assert emails == {"admin@example.com": "admin", "val@example.com": "viewer"}
    promoted = ok(api.put(f"/members/{user_id}", json={"role": "operator"}))
    assert promoted["role"] == "operator"
    tokens = ok(
        api.post("/auth/login", json={"email": "val@example.com", "password": TEST_PASSWORD})
    )
    assert api.delete(f"/members/{user_id}").status_code == 204
    assert [m["email"] for m in ok(api.get("/members"))] == ["admin@example.com"]
    problem(
        api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}),
        401,
        "unauthenticated",
    )
    problem(
        api.post("/auth/login", json={"email": "val@example.com", "password": TEST_PASSWORD}),
        401,
        "unauthenticated",
    )
    actions = [
        e["action"] for e in ok(api.get("/audit", params={"action": "membership.*"}))["items"]
    ]
    assert actions[:2] == ["membership.removed", "membership.role_changed"]


def test_the_last_admin_stays(api: httpx.Client) -> None:
    me = ok(api.get("/auth/me"))["user"]["user_id"]
    problem(api.put(f"/members/{me}", json={"role": "viewer"}), 409, "conflict")
    problem(api.delete(f"/members/{me}"), 409, "conflict")
    problem(
        api.put("/members/00000000-0000-7000-8000-000000000999", json={"role": "viewer"}),
        404,
        "not_found",
    )


def test_only_admins_manage_people(server: str, api: httpx.Client, backend: Backend) -> None:
    _user, token = make_user(backend, Role.DEVELOPER)
    with client_for(server, token) as dev:
        problem(dev.get("/members"), 403, "forbidden")
        problem(
            dev.post("/invitations", json={"email": "x@example.com", "role": "admin"}),
            403,
            "forbidden",
        )
    problem(
        api.post("/invitations", json={"email": "x@example.com", "role": "agent"}), 409, "conflict"
    )
