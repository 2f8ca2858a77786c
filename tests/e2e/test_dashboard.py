"""The dashboard's golden paths in a real browser against the real server."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    ADMIN_EMAIL,
    VIEWER_EMAIL,
    VIEWER_PASSWORD,
    Dashboard,
    shoot,
    sign_in,
    sign_in_admin,
)


@pytest.fixture(autouse=True)
def _patient(patient_page: Page) -> None:
    """Every test here drives the page with the longer timeout."""


def test_sign_in_sign_out_and_expired_session(page: Page, dashboard: Dashboard) -> None:
    page.goto("/agents")
    expect(page).to_have_url(re.compile(r"/signin$"))
    shoot(page, "sign-in")
    page.get_by_label("E-mail").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong e-mail or password")

    page.get_by_label("Password").fill(dashboard.admin_password)
    page.get_by_role("button", name="Sign in").click()
    # Back where the person was going, signed in, with the demo team.
    expect(page.get_by_role("heading", name="Agents", exact=True)).to_be_visible()
    expect(page.get_by_test_id("whoami")).to_contain_text("admin")
    expect(page.get_by_role("link", name="@orchestrator")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin$"))

    # A session whose tokens no longer work ends with a message, not a broken page.
    sign_in_admin(page, dashboard)
    page.evaluate(
        """() => {
            const s = JSON.parse(localStorage.getItem("mc.session"));
            s.accessToken = "expired"; s.refreshToken = "revoked";
            localStorage.setItem("mc.session", JSON.stringify(s));
        }"""
    )
    page.reload()
    expect(page.get_by_text("Your session has expired")).to_be_visible()


def test_command_center_goal_subtasks_appear_live(page: Page, dashboard: Dashboard) -> None:
    sign_in_admin(page, dashboard)
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-status", "live")
    expect(page.get_by_test_id("agent-card")).to_have_count(4)
    expect(page.get_by_test_id("stat-open")).to_have_text(re.compile(r"^\d+$"))

    page.get_by_role("button", name="New goal").click()
    page.get_by_label("What should the team achieve?").fill(
        "Compare three note-taking apps\nFor a small team, with prices."
    )
    page.get_by_role("button", name="Start goal").click()
    progress = page.get_by_test_id("goal-progress")
    expect(progress).to_contain_text("Compare three note-taking apps")
    # The orchestrator plans subtasks and the agents work them: it shows up without a reload.
    expect(progress.get_by_test_id("goal-subtask").first).to_be_visible(timeout=20_000)
    expect(progress.get_by_test_id("goal-subtask").nth(1)).to_be_visible()
    # The feed only learns of events from the live stream (it never polls).
    feed = page.get_by_role("list", name="Activity")
    expect(feed).to_contain_text("New goal: Compare three note-taking apps")
    expect(feed).to_contain_text(re.compile(r"New task: .*note-taking apps"))
    subtask = progress.get_by_test_id("goal-subtask").first.get_by_role("link").inner_text()
    expect(page.get_by_test_id("kanban")).to_contain_text(subtask.rstrip("…"))
    expect(progress.get_by_role("progressbar")).to_have_attribute(
        "aria-valuenow", "100", timeout=30_000
    )
    # Something blocked, for the picture: the blocked column shows it with its reason.
    with dashboard.api() as api:
        stuck = api.post(
            "/tasks", json={"title": "Renew the TLS certificate", "priority": "urgent"}
        )
        api.post(
            f"/tasks/{stuck.json()['task_id']}/status",
            json={"status": "blocked", "reason": "waiting for the registrar's login"},
        )
    expect(page.get_by_test_id("column-blocked")).to_contain_text("waiting for the registrar")
    page.set_viewport_size({"width": 1280, "height": 1500})  # tall enough to show the board
    shoot(page, "command-center")


def test_illegal_drag_snaps_back_with_the_reason(page: Page, dashboard: Dashboard) -> None:
    sign_in_admin(page, dashboard)
    done = page.get_by_test_id("column-done")
    card = done.get_by_test_id("task-card").first
    expect(card).to_be_visible()
    task_id = card.get_attribute("data-task-id")
    # Several steps, as a hand would (dnd-kit starts a drag after 5 px of movement), to the top
    # of the column: its middle may be below the fold, and scrolling mid-drag drops nothing.
    card.scroll_into_view_if_needed()
    card.drag_to(page.get_by_test_id("column-inbox"), steps=10, target_position={"x": 40, "y": 30})

    refused = page.get_by_test_id("move-refused")
    expect(refused).to_contain_text("to Inbox")
    expect(refused).to_contain_text("task cannot go from done to inbox; allowed: in_progress")
    # Snapped back: still in Done, on the page and in the API.
    expect(done.locator(f'[data-task-id="{task_id}"]')).to_be_visible()
    expect(
        page.get_by_test_id("column-inbox").locator(f'[data-task-id="{task_id}"]')
    ).to_have_count(0)
    with dashboard.api() as api:
        assert api.get(f"/tasks/{task_id}").json()["status"] == "done"
    shoot(page, "board-move-refused")

    # The same with the keyboard only: Space picks the card up, arrows move it, Space drops it.
    page.get_by_role("button", name="Dismiss").click()
    card.focus()
    page.keyboard.press("Space")
    announcer = page.locator("[id^=DndLiveRegion]")
    for _ in range(20):
        if "Over Review" in announcer.inner_text():
            break
        page.keyboard.press("ArrowLeft")
    page.keyboard.press("Space")
    expect(refused).to_contain_text("task cannot go from done to review; allowed: in_progress")
    expect(done.locator(f'[data-task-id="{task_id}"]')).to_be_visible()


def test_reply_in_a_thread_with_a_mention(page: Page, dashboard: Dashboard) -> None:
    with dashboard.api() as api:
        task = api.post("/tasks", json={"title": "Check the launch checklist"}).json()
        first = api.post(
            f"/tasks/{task['task_id']}/messages", json={"content": "Draft is in the documents."}
        ).json()
        writer = next(a for a in api.get("/agents").json()["items"] if a["name"] == "writer")
    sign_in_admin(page, dashboard)
    page.goto(f"/tasks/{task['task_id']}")
    expect(page.get_by_role("heading", name="Check the launch checklist")).to_be_visible()
    page.get_by_role("button", name="Reply to You").click()
    expect(page.get_by_text("Replying to You")).to_be_visible()

    box = page.get_by_role("combobox", name="Reply")
    box.press_sequentially("Looks good, @wri")
    suggestions = page.get_by_role("listbox", name="Mention suggestions")
    expect(suggestions.get_by_role("option", name="@writer")).to_be_visible()
    box.press("Enter")
    expect(box).to_have_value("Looks good, @writer ")
    box.press_sequentially("please proofread.")
    page.get_by_role("button", name="Send").click()

    thread = page.get_by_role("list", name="Thread")
    expect(thread.get_by_text("Looks good, @writer please proofread.")).to_be_visible()
    with dashboard.api() as api:
        messages = api.get(f"/tasks/{task['task_id']}/messages").json()["items"]
    reply = next(m for m in messages if m["content"] == "Looks good, @writer please proofread.")
    assert reply["reply_to_message_id"] == first["message_id"]
    assert reply["mentioned_agent_ids"] == [writer["agent_id"]]
    shoot(page, "task-detail")


def test_edit_a_document_and_see_its_history(page: Page, dashboard: Dashboard) -> None:
    with dashboard.api() as api:
        doc = api.post(
            "/documents", json={"title": "Release notes", "content": "# Release notes\n\nFirst."}
        ).json()
    sign_in_admin(page, dashboard)
    page.goto("/documents")
    page.get_by_label("Search").fill("Release")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Release notes").click()

    page.get_by_role("tab", name="Edit").click()
    editor = page.get_by_label("Markdown")
    editor.fill("# Release notes\n\nFirst.\n\n## Fixes\n\n- Faster board")
    expect(page.get_by_test_id("preview").get_by_role("heading", name="Fixes")).to_be_visible()
    page.get_by_role("button", name="Save new version").click()
    expect(page.get_by_text("Saved as version 2")).to_be_visible()

    page.get_by_role("tab", name="History").click()
    expect(page.get_by_test_id("document-version")).to_have_count(2)
    diff = page.get_by_test_id("diff")
    expect(diff).to_contain_text("+ ## Fixes")
    expect(diff).to_contain_text("+ - Faster board")
    shoot(page, "document-history")

    # Someone else saves while we edit: the save is refused and our draft is kept.
    page.get_by_role("tab", name="Edit").click()
    page.get_by_label("Markdown").fill("# Release notes\n\nMy edit")
    with dashboard.api() as api:
        api.put(
            f"/documents/{doc['document_id']}",
            json={"content": "# Release notes\n\nTheir edit"},
            headers={"If-Match": '"2"'},
        ).raise_for_status()
    page.get_by_role("button", name="Save new version").click()
    expect(page.get_by_role("alert")).to_contain_text("Someone saved version 3")
    expect(page.get_by_label("Markdown")).to_have_value("# Release notes\n\nMy edit")


def test_working_md_notes_conflict_is_shown_not_lost(page: Page, dashboard: Dashboard) -> None:
    sign_in_admin(page, dashboard)
    page.goto("/working")
    notes = page.get_by_role("textbox", name="Notes")
    expect(notes).to_be_visible()
    notes.fill("Ship on Friday.")
    with dashboard.api() as api:
        current = api.get("/state/working-md").json()["notes_version"]
        api.put(
            "/state/working-md",
            json={"notes": "Ship on Monday."},
            headers={"If-Match": f'"{current}"'},
        ).raise_for_status()
    page.get_by_role("button", name="Save notes").click()
    conflict = page.get_by_test_id("notes-conflict")
    expect(conflict).to_contain_text(f"changed to version {current + 1}")
    expect(notes).to_have_value("Ship on Friday.")
    conflict.get_by_role("button", name="Save mine over theirs next").click()
    page.get_by_role("button", name="Save notes").click()
    expect(page.get_by_text(f"Notes saved (version {current + 2})")).to_be_visible()
    history = page.get_by_role("list", name="Notes versions")
    expect(history.get_by_role("listitem").first).to_contain_text(f"v{current + 2} · user")
    history.get_by_role("button", name=re.compile(f"^v{current + 2} ")).click()
    expect(page.get_by_test_id("diff")).to_contain_text("- Ship on Monday.")
    expect(page.get_by_test_id("diff")).to_contain_text("+ Ship on Friday.")
    shoot(page, "working-md")


def test_a_viewer_sees_no_edit_controls(page: Page, dashboard: Dashboard) -> None:
    with dashboard.api() as api:
        task = api.post("/tasks", json={"title": "Viewer can look"}).json()
        doc = api.post("/documents", json={"title": "Viewer doc", "content": "Hello"}).json()
    sign_in(page, VIEWER_EMAIL, VIEWER_PASSWORD)
    expect(page.get_by_test_id("whoami")).to_contain_text("viewer")
    expect(page.get_by_test_id("task-card").first).to_be_visible()
    expect(page.get_by_role("button", name="New goal")).to_have_count(0)
    expect(page.locator('[aria-roledescription="draggable task"]')).to_have_count(0)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Admin")).to_have_count(0)

    page.goto(f"/tasks/{task['task_id']}")
    expect(page.get_by_role("heading", name="Viewer can look")).to_be_visible()
    expect(page.get_by_role("combobox", name="Reply")).to_have_count(0)
    expect(page.get_by_role("button", name="Change status")).to_have_count(0)
    expect(page.get_by_role("button", name="Save assignees")).to_have_count(0)

    page.goto(f"/documents/{doc['document_id']}")
    expect(page.get_by_role("heading", name="Viewer doc")).to_be_visible()
    expect(page.get_by_role("tab", name="Edit")).to_have_count(0)
    expect(page.get_by_role("button", name="Edit")).to_have_count(0)
    page.goto("/documents")
    expect(page.get_by_role("heading", name="Documents")).to_be_visible()
    expect(page.get_by_role("button", name="New document")).to_have_count(0)
    page.goto("/working")
    # The page title (the rendered file below has its own "WORKING.md" heading).
    expect(page.get_by_role("heading", name="WORKING.md").first).to_be_visible()
    expect(page.get_by_role("textbox", name="Notes")).to_have_count(0)
    page.goto("/agents")
    expect(page.get_by_role("link", name="@writer")).to_be_visible()
    expect(page.get_by_role("button", name="New agent")).to_have_count(0)
    # And the API refuses what the page does not offer.
    with dashboard.api(VIEWER_EMAIL, VIEWER_PASSWORD) as api:
        assert api.post("/goals", json={"text": "sneaky"}).status_code == 403


def test_main_pages_render(page: Page, dashboard: Dashboard) -> None:
    sign_in_admin(page, dashboard)
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Agents").click()
    page.get_by_role("link", name="@writer").click()
    expect(page.get_by_role("heading", name="@writer")).to_be_visible()
    expect(page.get_by_text("Model policy")).to_be_visible()
    shoot(page, "agent-profile")
    page.get_by_role("button", name="Edit").click()
    page.get_by_label("Instructions").fill("Write clearly. Cite every source.")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("tab", name="Versions").click()
    expect(page.get_by_role("list", name="Versions").get_by_role("listitem")).to_have_count(2)
    expect(page.get_by_test_id("agent-diff")).to_contain_text("+Write clearly. Cite every source.")
    shoot(page, "agent-versions")
    page.get_by_role("button", name="Roll back to v1").click()
    expect(page.get_by_text("Restored as version 3")).to_be_visible()
    expect(page.get_by_role("list", name="Versions").get_by_role("listitem")).to_have_count(3)

    nav.get_by_role("link", name="Usage & budgets").click()
    expect(page.get_by_role("heading", name="Usage and budgets")).to_be_visible()
    expect(page.get_by_role("img", name="Tokens by day")).to_be_visible()
    shoot(page, "usage")
    with page.expect_download() as download:
        page.get_by_role("button", name="CSV by agent").click()
    csv = Path(download.value.path()).read_text()
    assert csv.startswith("group_by,key,requests,input_tokens,output_tokens,cost_usd")
    assert "\nagent," in csv

    nav.get_by_role("link", name="Admin").click()
    page.get_by_role("tab", name="Audit log").click()
    expect(page.get_by_test_id("audit-row").first).to_be_visible()
    page.get_by_label("Action").fill("auth.*")
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_test_id("audit-row")
    expect(rows.first).to_contain_text("auth.")
    assert all(row.startswith("auth.") for row in rows.locator("td:nth-child(2)").all_inner_texts())
    shoot(page, "admin-audit")
    page.get_by_role("tab", name="Users and roles").click()
    expect(page.get_by_text(VIEWER_EMAIL)).to_be_visible()
    page.get_by_role("tab", name="Models and credentials").click()
    expect(page.get_by_text("offline").first).to_be_visible()
    shoot(page, "admin-models")
    page.get_by_role("tab", name="API keys").click()
    page.get_by_label("Name").fill("ci-deploy")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_test_id("secret")).to_have_text(re.compile(r"^mck_"))
    expect(page.get_by_role("listitem").filter(has_text="ci-deploy")).to_contain_text("operator")

    # Dark mode and a phone's width.
    nav.get_by_role("link", name="Command center").click()
    page.get_by_role("button", name="Switch to dark mode").click()
    expect(page.locator("html")).to_have_class(re.compile("dark"))
    shoot(page, "command-center-dark")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_role("button", name="Menu")).to_be_visible()
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Command center").click()
    shoot(page, "phone")


def test_switch_tenant_changes_data_and_role(page: Page, dashboard: Dashboard) -> None:
    # The viewer of the default tenant is invited into a second tenant as an operator.
    dashboard.server.missionctl(
        "users", "create", "--tenant", "acme", "--email", "boss@acme.example",
        "--role", "admin", "--password-stdin", stdin=b"acme boss password\n",
    )  # fmt: skip
    with httpx.Client(base_url=f"{dashboard.url}/api/v1", timeout=30) as api:
        tokens = api.post(
            "/auth/login",
            json={"email": "boss@acme.example", "password": "acme boss password", "tenant": "acme"},
        ).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        api.post("/tasks", json={"title": "Only in Acme"}, headers=headers).raise_for_status()
        invitation = api.post(
            "/invitations", json={"email": VIEWER_EMAIL, "role": "operator"}, headers=headers
        ).json()
        api.post(
            "/auth/accept-invitation",
            json={"token": invitation["token"], "password": VIEWER_PASSWORD},
        ).raise_for_status()

    sign_in(page, VIEWER_EMAIL, VIEWER_PASSWORD)
    expect(page.get_by_test_id("whoami")).to_contain_text("viewer")
    expect(page.get_by_role("button", name="New goal")).to_have_count(0)
    page.get_by_role("button", name=re.compile("Switch tenant")).click()
    page.get_by_label("Another tenant").fill("acme")
    page.get_by_role("button", name="Switch", exact=True).click()
    expect(page.get_by_test_id("whoami")).to_contain_text("operator")
    expect(page.get_by_role("button", name=re.compile("Tenant: acme"))).to_be_visible()
    expect(page.get_by_test_id("kanban")).to_contain_text("Only in Acme")
    expect(page.get_by_role("button", name="New goal")).to_be_visible()
    # Back to the first tenant, now offered by name.
    page.get_by_role("button", name=re.compile("Switch tenant")).click()
    page.get_by_role("button", name=re.compile(r"Default \(default\)")).click()
    expect(page.get_by_test_id("whoami")).to_contain_text("viewer")
    expect(page.get_by_test_id("kanban")).not_to_contain_text("Only in Acme")


def test_live_stream_resumes_after_the_server_comes_back(page: Page, dashboard: Dashboard) -> None:
    sign_in_admin(page, dashboard)
    status = page.get_by_test_id("live-status")
    expect(status).to_have_attribute("data-status", "live")
    dashboard.server.stop()
    expect(status).to_have_attribute("data-status", "reconnecting", timeout=15_000)
    # Written while the server is down (by the CLI, into the same database): the stream must
    # deliver it after the reconnect, since it resumes after the last event it saw.
    dashboard.server.missionctl("tasks", "create", "Written while the stream was down")
    dashboard.server.start()
    expect(status).to_have_attribute("data-status", "live", timeout=30_000)
    feed = page.get_by_role("list", name="Activity")
    expect(feed).to_contain_text("New task: Written while the stream was down", timeout=15_000)
    expect(page.get_by_test_id("kanban")).to_contain_text("Written while the stream was down")


def test_notification_bell_counts_live_and_marks_read(page: Page, dashboard: Dashboard) -> None:
    sign_in_admin(page, dashboard)
    bell = page.get_by_role("button", name=re.compile(r"^Notifications, \d+ unread"))
    expect(bell).to_be_visible()
    if page.get_by_test_id("unread-count").count():  # earlier tests may have left some
        bell.click()
        page.get_by_role("button", name="Mark all read").click()
        expect(page.get_by_test_id("unread-count")).to_have_count(0)
        bell.click()
    with dashboard.api() as api:
        writer = next(a for a in api.get("/agents").json()["items"] if a["name"] == "writer")
        # An agent that becomes blocked is escalated to the admins: a notification for them.
        api.patch(f"/agents/{writer['agent_id']}", json={"status": "blocked"}).raise_for_status()
    expect(page.get_by_test_id("unread-count")).to_have_text("1")  # live, no reload
    card = page.get_by_test_id("agent-card").filter(has_text="writer")
    expect(card).to_contain_text("blocked")
    page.get_by_role("button", name="Notifications, 1 unread").click()
    expect(page.get_by_role("list", name="Notifications")).to_contain_text(
        "writer is blocked and needs a person"
    )
    shoot(page, "notifications")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_test_id("unread-count")).to_have_count(0)
    with dashboard.api() as api:
        me = api.get("/auth/me").json()["user"]["user_id"]
        unread = api.get("/notifications", params={"user_id": me, "is_read": "false"}).json()
        assert unread["items"] == []
        api.patch(f"/agents/{writer['agent_id']}", json={"status": "idle"}).raise_for_status()
