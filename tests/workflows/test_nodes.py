"""Every node type runs as documented, through the API and a real worker (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.workflows.conftest import (
    BRIEF,
    StartWorkflows,
    run_until,
    save,
    start,
    steps,
)


class Target:
    """A local HTTP service for `http` nodes: answers with `status` and counts the calls."""

    def __init__(self) -> None:
        self.status = 200
        self.calls: list[dict[str, Any]] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                target.calls.append(
                    {"path": self.path, "body": body, "key": self.headers.get("Idempotency-Key")}
                )
                payload = json.dumps({"echo": body, "n": len(target.calls)}).encode()
                self.send_response(target.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def target() -> Iterator[Target]:
    """A local HTTP target (`start_workflows` allows 127.0.0.1)."""
    service = Target()
    yield service
    service.server.shutdown()
    service.server.server_close()


def approve(api: httpx.Client, run_id: str, node: str, *, approved: bool = True) -> None:
    response = api.post(
        f"/workflow-runs/{run_id}/approvals",
        json={"node": node, "approved": approved, "comment": "looks right"},
    )
    assert response.status_code == 200, response.text


def test_the_example_runs_as_written_approved(
    api: httpx.Client, start_workflows: StartWorkflows
) -> None:
    saved = save(api, BRIEF)
    assert (saved["name"], saved["version"], saved["is_new_version"]) == ("brief", 1, True)
    start_workflows()
    run = start(api, "brief", topic="tides")
    run = run_until(api, run["run_id"], "waiting")
    waiting = steps(run)
    assert waiting["review"]["status"] == "waiting"
    assert waiting["review"]["details"]["message"] == "Publish the brief on tides?"
    assert {waiting["outline"]["status"], waiting["facts"]["status"]} == {"succeeded"}
    assert "note" not in waiting  # it waits for the approval
    approve(api, run["run_id"], "review")
    done = run_until(api, run["run_id"], "succeeded")
    by_key = steps(done)
    assert by_key["review"]["output"]["approved"] is True
    assert by_key["publish"]["output"] == {"result": True, "branch": "then"}
    assert by_key["note"]["status"] == "succeeded"
    assert done["outputs"]["note"] == by_key["note"]["output"]["text"] != ""
    assert "tides" in done["outputs"]["note"]


def test_the_example_rejected_skips_the_note(
    api: httpx.Client, start_workflows: StartWorkflows
) -> None:
    save(api, BRIEF)
    start_workflows()
    run = run_until(api, start(api, "brief", topic="tides")["run_id"], "waiting")
    approve(api, run["run_id"], "review", approved=False)
    done = run_until(api, run["run_id"], "succeeded")
    by_key = steps(done)
    assert by_key["publish"]["output"]["branch"] == "else"
    assert by_key["note"]["status"] == "skipped"
    assert done["outputs"] == {"note": None}  # a single {{ … }} keeps its value: none here
    again = api.post(
        f"/workflow-runs/{run['run_id']}/approvals", json={"node": "review", "approved": True}
    )
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


KITCHEN_SINK = """\
name: sink
inputs:
  kind: {type: string, default: b, enum: [a, b]}
  items: {type: array, default: [1, 2, 3]}
vars:
  greeting: "hello {{ inputs.kind }}"
nodes:
  ask:
    type: agent
    agent: writer
    prompt: "Say {{ vars.greeting }}"
  fan:
    type: parallel
    nodes: [left, right]
  left: {type: tool, tool: noop, args: {side: left}}
  right: {type: tool, tool: noop, args: {side: right, n: "{{ len(inputs.items) }}"}}
  route:
    type: switch
    needs: [fan]
    value: inputs.kind
    cases: {a: [on_a], b: [on_b]}
  on_a: {type: tool, tool: noop, args: {chosen: a}}
  on_b: {type: tool, tool: noop, args: {chosen: b}}
  after:
    type: tool
    tool: noop
    needs: [on_a, on_b]
    join: any
    args: {joined: "{{ nodes.fan.output.right.n }}"}
  each:
    type: map
    items: inputs.items
    concurrency: 2
    node: {type: tool, tool: noop, args: {double: "{{ item * 2 }}", at: "{{ index }}"}}
  pause:
    type: wait
    seconds: 0.2
  file:
    type: tool
    tool: document.write
    needs: [ask]
    args: {title: "From the sink", content: "{{ nodes.ask.output.text }}"}
  child:
    type: subworkflow
    workflow: brief
    inputs: {topic: "children"}
  job:
    type: task
    title: "Check {{ inputs.kind }}"
    assign: [writer]
outputs:
  switch: "{{ nodes.route.output.branch }}"
  doubled: "{{ pluck(nodes.each.output.items, 'double') }}"
  joined: "{{ nodes.after.output.joined }}"
  child_note: "{{ nodes.child.output.note }}"
  task: "{{ nodes.job.output.status }}"
"""


def test_every_node_type_runs(api: httpx.Client, start_workflows: StartWorkflows) -> None:
    writer = api.post(
        "/agents", json={"name": "writer", "role": "Writer", "capabilities": ["writing"]}
    )
    assert writer.status_code == 201, writer.text
    save(api, BRIEF)
    save(api, KITCHEN_SINK)
    start_workflows()
    run = start(api, "sink")
    # The child run parks on its approval; the task waits for a person to finish it.
    child_step = run_until_step(api, run["run_id"], "child", "waiting")
    child_id = child_step["details"]["run_id"]
    run_until(api, child_id, "waiting")
    approve(api, child_id, "review")
    task_step = run_until_step(api, run["run_id"], "job", "waiting")
    task_id = task_step["details"]["task_id"]
    task = api.get(f"/tasks/{task_id}").json()
    assert task["title"] == "Check b"
    for status in ("in_progress", "review", "done"):
        moved = api.post(f"/tasks/{task_id}/status", json={"status": status})
        assert moved.status_code == 200, moved.text
    done = run_until(api, run["run_id"], "succeeded", "failed")
    assert done["status"] == "succeeded", done
    by_key = steps(done)
    assert by_key["ask"]["output"]["agent"] == "writer" and by_key["ask"]["output"]["text"]
    assert by_key["fan"]["output"]["left"] == {"side": "left"}
    assert by_key["on_a"]["status"] == "skipped" and by_key["on_b"]["status"] == "succeeded"
    assert by_key["after"]["status"] == "succeeded"  # join: any
    assert by_key["pause"]["output"]["waited_until"]
    assert [by_key[f"each[{i}]"]["output"]["at"] for i in range(3)] == [0, 1, 2]
    document = by_key["file"]["output"]["document_id"]
    assert api.get(f"/documents/{document}").json()["title"] == "From the sink"
    assert done["outputs"] == {
        "switch": "b",
        "doubled": [2, 4, 6],
        "joined": 3,
        "child_note": api.get(f"/workflow-runs/{child_id}").json()["outputs"]["note"],
        "task": "done",
    }
    assert by_key["child"]["output"]["note"]


def run_until_step(api: httpx.Client, run_id: str, key: str, status: str) -> dict[str, Any]:
    """Poll a run until step `key` reaches `status`; the step."""
    from tests.runtime.conftest import wait_until

    def reached() -> dict[str, Any] | None:
        step = steps(api.get(f"/workflow-runs/{run_id}").json()).get(key)
        return step if step and step["status"] == status else None

    return wait_until(reached)  # type: ignore[no-any-return]


def test_a_map_respects_its_concurrency_bound(
    api: httpx.Client, start_workflows: StartWorkflows
) -> None:
    save(
        api,
        """\
name: bounded
nodes:
  both:
    type: parallel
    nodes: [slow, quick]
  slow:
    type: map
    items: "range(6)"
    concurrency: 2
    node: {type: tool, tool: sleep, args: {seconds: 0.3}}
  quick: {type: tool, tool: noop, args: {}}
""",
    )
    start_workflows(concurrency=2)
    done = run_until(api, start(api, "bounded")["run_id"], "succeeded", "failed")
    assert done["status"] == "succeeded"
    items = [s for s in done["steps"] if s["node_id"] == "slow" and s["item_index"] is not None]
    assert len(items) == 6
    spans = [
        (datetime.fromisoformat(s["started_at"]), datetime.fromisoformat(s["finished_at"]))
        for s in items
    ]
    most = max(sum(1 for a, b in spans if a <= start_at < b) for start_at, _ in spans)
    assert most == 2  # never more than the bound, and the bound was used


def test_a_failing_step_retries_lands_in_dead_letters_and_resumes_after_a_fix(
    api: httpx.Client, start_workflows: StartWorkflows, target: Target
) -> None:
    save(
        api,
        f"""\
name: flaky
nodes:
  first: {{type: tool, tool: noop, args: {{step: 1}}}}
  call:
    type: http
    needs: [first]
    method: POST
    url: "{target.url}/orders"
    json: {{order: 7}}
    retry: {{attempts: 3, backoff_seconds: 0.05, jitter: 0}}
outputs:
  answer: "{{{{ nodes.call.output.body.echo.order }}}}"
""",
    )
    target.status = 503
    start_workflows()
    run = start(api, "flaky")
    failed = run_until(api, run["run_id"], "failed")
    assert failed["failed_step"] == "call" and "HTTP 503" in failed["error"]
    call = steps(failed)["call"]
    assert call["attempts"] == 3 and call["error_class"] == "http_5xx"
    assert sum("retrying" in line for line in call["logs"]) == 2
    assert len(target.calls) == 3
    assert {c["key"] for c in target.calls} == {f"{run['run_id']}:call"}  # one idempotency key
    first_finished = steps(failed)["first"]["finished_at"]
    dead = api.get("/workflow-dead-letters").json()
    assert [(d["run_id"], [s["step_key"] for s in d["steps"]]) for d in dead] == [
        (run["run_id"], ["call"])
    ]
    target.status = 200  # the fix
    resumed = api.post(f"/workflow-runs/{run['run_id']}/resume")
    assert resumed.status_code == 200, resumed.text
    done = run_until(api, run["run_id"], "succeeded")
    assert done["outputs"] == {"answer": 7}
    assert steps(done)["first"]["finished_at"] == first_finished  # not run again
    assert steps(done)["first"]["attempts"] == 1
    assert len(target.calls) == 4
    assert api.get("/workflow-dead-letters").json() == []


def test_cancel_pause_and_resume(api: httpx.Client, start_workflows: StartWorkflows) -> None:
    save(api, BRIEF)
    start_workflows()
    run = run_until(api, start(api, "brief", topic="x")["run_id"], "waiting")
    paused = api.post(f"/workflow-runs/{run['run_id']}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    approve(api, run["run_id"], "review")
    assert api.get(f"/workflow-runs/{run['run_id']}").json()["status"] == "paused"
    assert api.post(f"/workflow-runs/{run['run_id']}/resume").json()["status"] == "queued"
    run_until(api, run["run_id"], "succeeded")
    other = run_until(api, start(api, "brief", topic="y")["run_id"], "waiting")
    cancelled = api.post(f"/workflow-runs/{other['run_id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert steps(cancelled)["review"]["status"] == "cancelled"
    late = api.post(
        f"/workflow-runs/{other['run_id']}/approvals", json={"node": "review", "approved": True}
    )
    assert late.status_code == 409


def test_inputs_are_checked_against_the_schema(api: httpx.Client) -> None:
    save(api, BRIEF)
    missing = api.post("/workflows/brief/runs", json={"inputs": {}})
    assert missing.status_code == 422 and missing.json()["field"] == "inputs.topic"
    wrong = api.post("/workflows/brief/runs", json={"inputs": {"topic": 3}})
    assert wrong.status_code == 422 and "string" in wrong.json()["detail"]
    extra = api.post("/workflows/brief/runs", json={"inputs": {"topic": "a", "nope": 1}})
    assert extra.status_code == 422 and extra.json()["field"] == "inputs.nope"
    assert api.get("/workflow-runs").json()["items"] == []


def test_a_cached_node_is_not_run_twice(
    api: httpx.Client, start_workflows: StartWorkflows, target: Target
) -> None:
    save(
        api,
        f"""\
name: cached
inputs:
  n: {{type: integer, required: true}}
nodes:
  call:
    type: http
    method: POST
    url: "{target.url}/lookup"
    json: {{n: "{{{{ inputs.n }}}}"}}
    cache: {{ttl_seconds: 600}}
""",
    )
    start_workflows()
    first = run_until(api, start(api, "cached", n=1)["run_id"], "succeeded")
    second = run_until(api, start(api, "cached", n=1)["run_id"], "succeeded")
    third = run_until(api, start(api, "cached", n=2)["run_id"], "succeeded")
    assert [steps(r)["call"]["is_cache_hit"] for r in (first, second, third)] == [
        False,
        True,
        False,
    ]
    assert steps(second)["call"]["output"] == steps(first)["call"]["output"]
    assert len(target.calls) == 2


def test_a_circuit_breaker_rests_a_failing_target(
    api: httpx.Client, start_workflows: StartWorkflows, target: Target
) -> None:
    save(
        api,
        f"""\
name: breaker
nodes:
  call:
    type: http
    method: POST
    url: "{target.url}/down"
    breaker: {{failures: 2, cooldown_seconds: 60}}
    retry: {{attempts: 4, backoff_seconds: 0.01, jitter: 0, errors: [http_5xx, circuit_open]}}
""",
    )
    target.status = 500
    start_workflows()
    failed = run_until(api, start(api, "breaker")["run_id"], "failed")
    call = steps(failed)["call"]
    assert call["attempts"] == 4 and call["error_class"] == "circuit_open"
    assert len(target.calls) == 2  # the breaker opened after two failures; no more requests


def test_versions_are_immutable_and_runs_pin_theirs(
    api: httpx.Client, start_workflows: StartWorkflows
) -> None:
    save(api, BRIEF)
    changed = BRIEF.replace("Write a closing note", "Write a short closing note")
    v2 = save(api, changed)
    assert (v2["version"], v2["is_new_version"]) == (2, True)
    same = api.post("/workflows", content=changed, headers={"content-type": "application/yaml"})
    assert same.status_code == 200 and same.json()["version"] == 2
    diff = api.get("/workflows/brief/diff", params={"from": 1, "to": 2}).json()
    assert [c["path"] for c in diff["changes"]] == ["nodes.note.prompt"]
    assert "+  note:" in diff["unified"] and "-  note:" in diff["unified"]
    published = api.post("/workflows/brief/publish", json={"version": 1}).json()
    assert (published["published_version"], published["latest_version"]) == (1, 2)
    tagged = api.post("/workflows/brief/tags", json={"version": 2, "tag": "candidate"}).json()
    assert tagged["tags"] == {"candidate": 2}
    start_workflows()
    on_published = start(api, "brief", topic="a")
    on_tag = api.post("/workflows/brief/runs", json={"inputs": {"topic": "b"}, "tag": "candidate"})
    assert (on_published["version"], on_tag.json()["version"]) == (1, 2)
    rolled = api.post("/workflows/brief/rollback", json={"version": 1}).json()
    assert rolled["version"] == 3 and rolled["workflow"]["published_version"] == 3
    v3 = api.get("/workflows/brief/versions/3").json()
    assert v3["definition"] == api.get("/workflows/brief/versions/1").json()["definition"]
    versions = api.get("/workflows/brief/versions").json()
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert [v["is_published"] for v in versions] == [True, False, False]


def test_timeouts_and_approval_defaults(api: httpx.Client, start_workflows: StartWorkflows) -> None:
    save(
        api,
        """\
name: timing
nodes:
  slow:
    type: tool
    tool: sleep
    args: {seconds: 5}
    timeout_seconds: 0.2
    retry: {attempts: 2, backoff_seconds: 0.01, jitter: 0, errors: [timeout]}
""",
    )
    save(
        api,
        """\
name: unattended
nodes:
  ok: {type: approval, message: "Go?", timeout_seconds: 0.3, default: approve}
  then: {type: wait, seconds: 0.1, needs: [ok]}
""",
    )
    start_workflows()
    failed = run_until(api, start(api, "timing")["run_id"], "failed")
    slow = steps(failed)["slow"]
    assert (slow["attempts"], slow["error_class"]) == (2, "timeout")
    done = run_until(api, start(api, "unattended")["run_id"], "succeeded")
    decision = steps(done)["ok"]["output"]
    assert decision["approved"] is True and decision["timed_out"] is True
    assert decision["decided_by"] == "timeout"


def test_deleting_a_workflow_takes_its_runs_triggers_and_schedules(
    api: httpx.Client, start_workflows: StartWorkflows
) -> None:
    save(api, BRIEF)
    trigger = api.post(
        "/workflows/brief/triggers",
        json={"name": "nightly", "kind": "cron", "cron": "0 3 * * *", "inputs": {"topic": "x"}},
    )
    assert trigger.status_code == 201, trigger.text
    assert [s["kind"] for s in api.get("/schedules").json()["items"]] == ["workflow.start"]
    start_workflows()
    run = run_until(api, start(api, "brief", topic="x")["run_id"], "waiting")
    assert api.delete("/workflows/brief").status_code == 204
    assert api.get("/workflows/brief").status_code == 404
    assert api.get(f"/workflow-runs/{run['run_id']}").status_code == 404
    assert api.get("/schedules").json()["items"] == []
