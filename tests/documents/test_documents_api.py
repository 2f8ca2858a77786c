"""Documents over HTTP: versions, optimistic concurrency, search."""

from __future__ import annotations

import httpx

from tests.factories import agent, created, ok, problem, task


def test_every_update_keeps_the_previous_version(api: httpx.Client) -> None:
    t = task(api)
    w = agent(api, "writer")
    doc = created(
        api.post(
            "/documents",
            json={
                "title": "Brief",
                "content": "v1 text",
                "doc_type": "deliverable",
                "task_id": t["task_id"],
                "author_agent_id": w["agent_id"],
            },
        )
    )
    assert doc["version"] == 1 and doc["author_kind"] == "agent"
    v2 = ok(api.put(f"/documents/{doc['document_id']}", json={"content": "v2 text"}))
    assert v2["version"] == 2 and v2["title"] == "Brief" and v2["author_kind"] == "user"
    v3 = ok(
        api.put(
            f"/documents/{doc['document_id']}",
            json={"title": "Final brief", "doc_type": "research"},
        )
    )
    assert v3["version"] == 3
    versions = ok(api.get(f"/documents/{doc['document_id']}/versions"))
    assert [(v["version"], v["title"], v["content"]) for v in versions] == [
        (3, "Final brief", "v2 text"),
        (2, "Brief", "v2 text"),
        (1, "Brief", "v1 text"),
    ]
    assert (
        ok(api.get(f"/documents/{doc['document_id']}/versions/1"))["author_agent_id"]
        == w["agent_id"]
    )
    problem(api.get(f"/documents/{doc['document_id']}/versions/9"), 404, "not_found")
    response = api.get(f"/documents/{doc['document_id']}")
    assert response.headers["etag"] == '"3"'


def test_an_unchanged_save_makes_no_version(api: httpx.Client) -> None:
    doc = created(api.post("/documents", json={"title": "T", "content": "same"}))
    assert ok(api.put(f"/documents/{doc['document_id']}", json={"content": "same"}))["version"] == 1
    assert len(ok(api.get(f"/documents/{doc['document_id']}/versions"))) == 1


def test_stale_saves_are_refused(api: httpx.Client) -> None:
    doc = created(api.post("/documents", json={"title": "T", "content": "a"}))
    ok(
        api.put(
            f"/documents/{doc['document_id']}", json={"content": "b"}, headers={"If-Match": '"1"'}
        )
    )
    body = problem(
        api.put(
            f"/documents/{doc['document_id']}", json={"content": "c"}, headers={"If-Match": '"1"'}
        ),
        409,
        "version_conflict",
    )
    assert body["current_version"] == 2 and body["expected_version"] == 1
    problem(
        api.put(f"/documents/{doc['document_id']}", json={"content": "c", "expected_version": 1}),
        409,
        "version_conflict",
    )
    problem(
        api.put(
            f"/documents/{doc['document_id']}", json={"content": "c"}, headers={"If-Match": "abc"}
        ),
        422,
        "invalid_input",
    )
    assert ok(api.get(f"/documents/{doc['document_id']}"))["content"] == "b"


def test_list_filter_and_search(api: httpx.Client) -> None:
    t = task(api)
    a = created(
        api.post(
            "/documents",
            json={
                "title": "Market research",
                "content": "Competitors: Acme",
                "doc_type": "research",
                "task_id": t["task_id"],
            },
        )
    )
    b = created(
        api.post(
            "/documents",
            json={"title": "Protocol", "content": "How we review", "doc_type": "protocol"},
        )
    )

    def ids(**params: object) -> list[str]:
        return [d["document_id"] for d in ok(api.get("/documents", params=params))["items"]]

    assert ids() == [b["document_id"], a["document_id"]]
    assert ids(task_id=t["task_id"]) == [a["document_id"]]
    assert ids(doc_type="protocol") == [b["document_id"]]
    assert ids(text="acme") == [a["document_id"]]
    assert "content" not in ok(api.get("/documents"))["items"][0]


def test_documents_need_an_existing_task_and_delete_cleanly(api: httpx.Client) -> None:
    problem(
        api.post(
            "/documents", json={"title": "T", "task_id": "00000000-0000-7000-8000-000000000999"}
        ),
        404,
        "not_found",
    )
    doc = created(api.post("/documents", json={"title": "T"}))
    ok(api.put(f"/documents/{doc['document_id']}", json={"content": "more"}))
    assert api.delete(f"/documents/{doc['document_id']}").status_code == 204
    problem(api.get(f"/documents/{doc['document_id']}"), 404, "not_found")
    problem(api.get(f"/documents/{doc['document_id']}/versions"), 404, "not_found")
