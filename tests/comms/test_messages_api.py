"""Task threads over HTTP: messages, replies, @mentions, attachments, notifications."""

from __future__ import annotations

import base64
import hashlib

import httpx

from tests.factories import agent, created, ok, problem, task


def post(api: httpx.Client, task_id: str, content: str, **fields: object) -> dict:
    return created(api.post(f"/tasks/{task_id}/messages", json={"content": content, **fields}))


def test_a_thread_in_order(api: httpx.Client) -> None:
    t = task(api)
    first = post(api, t["task_id"], "What is the scope?", message_type="question")
    second = post(
        api,
        t["task_id"],
        "Five pages.",
        message_type="answer",
        reply_to_message_id=first["message_id"],
    )
    assert second["reply_to_message_id"] == first["message_id"]
    thread = ok(api.get(f"/tasks/{t['task_id']}/messages"))["items"]
    assert [m["content"] for m in thread] == ["What is the scope?", "Five pages."]
    answers = ok(api.get(f"/tasks/{t['task_id']}/messages", params={"message_type": "answer"}))[
        "items"
    ]
    assert [m["message_id"] for m in answers] == [second["message_id"]]
    assert ok(api.get(f"/messages/{first['message_id']}"))["content"] == "What is the scope?"


def test_replies_must_stay_in_the_thread(api: httpx.Client) -> None:
    a, b = task(api, "a"), task(api, "b")
    elsewhere = post(api, a["task_id"], "hello")
    problem(
        api.post(
            f"/tasks/{b['task_id']}/messages",
            json={"content": "re", "reply_to_message_id": elsewhere["message_id"]},
        ),
        422,
        "invalid_input",
    )


def test_mentions_notify_the_named_agents_only(api: httpx.Client) -> None:
    writer, reviewer, _bystander = (
        agent(api, "writer"),
        agent(api, "reviewer"),
        agent(api, "bystander"),
    )
    t = task(api, "Launch post")
    msg = post(
        api,
        t["task_id"],
        "@writer please draft; @reviewer check it. cc @nobody, mail me@example.com",
        author_agent_id=writer["agent_id"],
    )
    # The author is not notified of their own mention; unknown names and e-mails are ignored.
    assert msg["mentioned_agent_ids"] == [reviewer["agent_id"]]
    assert msg["author_kind"] == "agent" and msg["author_agent_id"] == writer["agent_id"]
    notes = ok(api.get("/notifications", params={"agent_id": reviewer["agent_id"]}))["items"]
    assert len(notes) == 1
    assert notes[0]["kind"] == "mention"
    assert notes[0]["task_id"] == t["task_id"] and notes[0]["message_id"] == msg["message_id"]
    assert "writer mentioned you on 'Launch post'" in notes[0]["content"]
    assert notes[0]["is_read"] is False and notes[0]["is_delivered"] is False
    assert ok(api.get("/notifications", params={"agent_id": writer["agent_id"]}))["items"] == []


def test_at_all_notifies_everyone_but_the_author(api: httpx.Client) -> None:
    a, b, c = agent(api, "a"), agent(api, "b"), agent(api, "c")
    t = task(api)
    msg = post(api, t["task_id"], "Standup in 5 @all", author_agent_id=a["agent_id"])
    assert sorted(msg["mentioned_agent_ids"]) == sorted([b["agent_id"], c["agent_id"]])


def test_mark_read_one_and_all(api: httpx.Client) -> None:
    w, r = agent(api, "w"), agent(api, "r")
    t = task(api)
    for _ in range(3):
        post(api, t["task_id"], "@w @r ping")
    mine = ok(api.get("/notifications", params={"agent_id": w["agent_id"]}))["items"]
    read = ok(api.put(f"/notifications/{mine[0]['notification_id']}/read"))
    assert read["is_read"] is True and read["read_at"] is not None
    assert (
        ok(api.put(f"/notifications/{mine[0]['notification_id']}/read"))["read_at"]
        == read["read_at"]
    )
    assert (
        ok(api.post("/notifications/mark-all-read", json={"agent_id": w["agent_id"]}))["updated"]
        == 2
    )
    assert (
        ok(api.get("/notifications", params={"agent_id": w["agent_id"], "is_read": "false"}))[
            "items"
        ]
        == []
    )
    assert (
        len(
            ok(api.get("/notifications", params={"agent_id": r["agent_id"], "is_read": "false"}))[
                "items"
            ]
        )
        == 3
    )
    assert ok(api.post("/notifications/mark-all-read"))["updated"] == 3
    problem(api.put("/notifications/00000000-0000-7000-8000-000000000999/read"), 404, "not_found")


def test_attachments_are_stored_and_served(api: httpx.Client) -> None:
    t = task(api)
    content = b"# Findings\n\nbinary \x00\xff ok\n"
    msg = post(
        api,
        t["task_id"],
        "see attached",
        attachments=[
            {
                "name": "findings.md",
                "media_type": "text/markdown",
                "content_base64": base64.b64encode(content).decode(),
            }
        ],
    )
    [att] = msg["attachments"]
    assert att["name"] == "findings.md" and att["size_bytes"] == len(content)
    assert att["sha256"] == hashlib.sha256(content).hexdigest()
    assert ok(api.get(f"/attachments/{att['attachment_id']}"))["sha256"] == att["sha256"]
    download = api.get(att["content_url"].removeprefix("/api/v1"))
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["content-type"].startswith("text/markdown")


def test_bad_attachments_are_refused(api: httpx.Client) -> None:
    t = task(api)
    problem(
        api.post(
            f"/tasks/{t['task_id']}/messages",
            json={
                "content": "x",
                "attachments": [{"name": "a", "content_base64": "!!!not base64!!!"}],
            },
        ),
        422,
        "validation_failed",
    )
    problem(
        api.post(
            f"/tasks/{t['task_id']}/messages",
            json={
                "content": "x",
                "attachments": [{"name": "../etc/passwd", "content_base64": "aGk="}],
            },
        ),
        422,
        "validation_failed",
    )
    big = base64.b64encode(b"x" * (10 * 1024 * 1024 + 1)).decode()
    problem(
        api.post(
            f"/tasks/{t['task_id']}/messages",
            json={"content": "x", "attachments": [{"name": "big.bin", "content_base64": big}]},
        ),
        413,
        "payload_too_large",
    )
    assert ok(api.get(f"/tasks/{t['task_id']}/messages"))["items"] == []


def test_messages_of_unknown_task_or_agent(api: httpx.Client) -> None:
    problem(api.get("/tasks/00000000-0000-7000-8000-000000000999/messages"), 404, "not_found")
    problem(
        api.post("/tasks/00000000-0000-7000-8000-000000000999/messages", json={"content": "x"}),
        404,
        "not_found",
    )
    t = task(api)
    problem(
        api.post(
            f"/tasks/{t['task_id']}/messages",
            json={"content": "x", "author_agent_id": "00000000-0000-7000-8000-000000000999"},
        ),
        422,
        "invalid_input",
    )
    problem(api.get("/messages/00000000-0000-7000-8000-000000000999"), 404, "not_found")


def test_thread_pagination(api: httpx.Client) -> None:
    t = task(api)
    for i in range(5):
        post(api, t["task_id"], f"m{i}")
    first = ok(api.get(f"/tasks/{t['task_id']}/messages", params={"limit": 3}))
    rest = ok(
        api.get(
            f"/tasks/{t['task_id']}/messages", params={"limit": 3, "cursor": first["next_cursor"]}
        )
    )
    assert [m["content"] for m in first["items"] + rest["items"]] == [f"m{i}" for i in range(5)]
    assert rest["next_cursor"] is None


def test_deleting_a_task_deletes_its_thread(api: httpx.Client) -> None:
    w = agent(api, "w")
    t = task(api)
    msg = post(api, t["task_id"], "@w hi")
    assert api.delete(f"/tasks/{t['task_id']}").status_code == 204
    problem(api.get(f"/messages/{msg['message_id']}"), 404, "not_found")
    assert ok(api.get("/notifications", params={"agent_id": w["agent_id"]}))["items"] == []
