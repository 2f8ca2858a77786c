"""Concurrent writers over HTTP: nothing lost, nothing doubled, losers get a clean 409."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.factories import agent, ok, task


def test_concurrent_creates_all_land_with_one_event_each(api: httpx.Client) -> None:
    base = str(api.base_url)

    def create(i: int) -> int:
        with httpx.Client(base_url=base, timeout=30, headers=api.headers) as client:
            return client.post("/tasks", json={"title": f"t{i}"}).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(create, range(60)))
    assert codes == [201] * 60
    titles = {t["title"] for t in ok(api.get("/tasks", params={"limit": 200}))["items"]}
    assert titles == {f"t{i}" for i in range(60)}
    events = ok(api.get("/activities", params={"limit": 200, "event_type": "task.created"}))
    assert len(events["items"]) == 60


def test_racing_notes_saves_of_one_version_let_exactly_one_win(api: httpx.Client) -> None:
    base = str(api.base_url)

    def save(i: int) -> int:
        with httpx.Client(base_url=base, timeout=30, headers=api.headers) as client:
            response = client.put(
                "/state/working-md", json={"notes": f"n{i}"}, headers={"If-Match": '"0"'}
            )
            if response.status_code == 409:
                assert response.json()["code"] == "version_conflict"
            return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(save, range(8)))
    assert sorted(codes) == [200] + [409] * 7
    assert [v["version"] for v in ok(api.get("/state/working-md/versions"))] == [1]


def test_racing_assignments_keep_a_consistent_board(api: httpx.Client) -> None:
    agents = [agent(api, f"a{i}")["agent_id"] for i in range(4)]
    t = task(api)
    base = str(api.base_url)

    def assign(i: int) -> int:
        with httpx.Client(base_url=base, timeout=30, headers=api.headers) as client:
            chosen = [agents[i % 4]]
            return client.post(
                f"/tasks/{t['task_id']}/assign", json={"agent_ids": chosen}
            ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(assign, range(16)))
    assert set(codes) <= {200, 409}
    assert codes.count(200) >= 1
    final = ok(api.get(f"/tasks/{t['task_id']}"))
    assert final["status"] == "assigned"
    assert len(final["assignee_ids"]) == 1
