"""WORKING.md over HTTP: the rendered board, versioned notes, If-Match, the mirrored file."""

from __future__ import annotations

import httpx

from tests.conftest import Backend
from tests.factories import agent, move, ok, problem, task


def test_renders_agents_board_activity_and_notes(api: httpx.Client, backend: Backend) -> None:
    w = agent(api, "writer", role="Writer")
    goal = task(api, "Launch the product", is_goal=True)
    t = task(api, "Draft | announcement", assignee_ids=[w["agent_id"]])
    ok(move(api, t["task_id"], "in_progress"))
    body = ok(api.get("/state/working-md"))
    content = body["content"]
    assert content.startswith("# WORKING.md")
    assert "| @writer | Writer | idle |" in content
    assert "### Inbox (1)" in content and "🎯 **Launch the product**" in content
    assert (
        "### In progress (1)" in content
        and "**Draft | announcement** [normal] · @writer" in content
    )
    assert goal["task_id"] in content
    assert "## Recent activity" in content and "moved from assigned to in_progress" in content
    assert body["notes_version"] == 0 and body["notes"] == ""
    mirrored = (backend.settings.data_dir / "WORKING.md").read_text()
    assert mirrored == content


def test_markdown_on_request(api: httpx.Client) -> None:
    response = api.get("/state/working-md", headers={"Accept": "text/markdown"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    assert response.text.startswith("# WORKING.md")
    assert response.headers["etag"] == '"0"'


def test_notes_need_the_current_version(api: httpx.Client, backend: Backend) -> None:
    problem(api.put("/state/working-md", json={"notes": "x"}), 428, "precondition_required")
    first = ok(
        api.put(
            "/state/working-md",
            json={"notes": "## Decisions\n- ship friday"},
            headers={"If-Match": '"0"'},
        )
    )
    assert first["notes_version"] == 1
    assert "## Notes\n\n## Decisions\n- ship friday" in first["content"]
    stale = problem(
        api.put("/state/working-md", json={"notes": "overwrite"}, headers={"If-Match": '"0"'}),
        409,
        "version_conflict",
    )
    assert stale["current_version"] == 1
    second = ok(api.put("/state/working-md", json={"notes": "v2", "expected_version": 1}))
    assert second["notes_version"] == 2
    assert ok(api.get("/state/working-md"))["notes"] == "v2"
    assert "v2" in (backend.settings.data_dir / "WORKING.md").read_text()


def test_every_notes_version_is_kept(api: httpx.Client) -> None:
    w = agent(api, "orchestrator")
    for version, text in enumerate(["one", "two", "three"]):
        ok(
            api.put(
                "/state/working-md",
                json={"notes": text, "author_agent_id": w["agent_id"]},
                headers={"If-Match": str(version)},
            )
        )
    versions = ok(api.get("/state/working-md/versions"))
    assert [(v["version"], v["content"]) for v in versions] == [
        (3, "three"),
        (2, "two"),
        (1, "one"),
    ]
    assert all(v["author_agent_id"] == w["agent_id"] for v in versions)
    assert ok(api.get("/state/working-md/versions/2"))["content"] == "two"
    problem(api.get("/state/working-md/versions/7"), 404, "not_found")
    feed = ok(api.get("/activities", params={"event_type": "working_md.updated"}))["items"]
    assert [e["payload"]["version"] for e in feed] == [3, 2, 1]


def test_long_columns_are_summarised(api: httpx.Client) -> None:
    for i in range(23):
        task(api, f"t{i}")
    content = ok(api.get("/state/working-md"))["content"]
    assert "### Inbox (23)" in content
    assert "- … and 3 more" in content
