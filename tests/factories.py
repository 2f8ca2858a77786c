"""Small helpers that create things over the API and check they worked."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM = "application/problem+json"


def created(response: httpx.Response) -> dict[str, Any]:
    """The body of a 201, failing loudly with the problem otherwise."""
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def ok(response: httpx.Response) -> Any:
    """The body of a 200."""
    assert response.status_code == 200, response.text
    return response.json()


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check a problem+json error and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["detail"]
    return body


def agent(api: httpx.Client, name: str = "researcher", **fields: Any) -> dict[str, Any]:
    """Create an agent."""
    payload = {"name": name, "role": name.capitalize(), **fields}
    return created(api.post("/agents", json=payload))


def task(api: httpx.Client, title: str = "Do the thing", **fields: Any) -> dict[str, Any]:
    """Create a task."""
    return created(api.post("/tasks", json={"title": title, **fields}))


def move(api: httpx.Client, task_id: str, status: str, **fields: Any) -> httpx.Response:
    """Ask for a status change."""
    return api.post(f"/tasks/{task_id}/status", json={"status": status, **fields})
