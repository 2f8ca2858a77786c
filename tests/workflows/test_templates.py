"""The built-in templates instantiate into valid workflows and run to the end (offline model)."""

from __future__ import annotations

import httpx
import pytest

from tests.workflows.conftest import StartWorkflows, run_until, start, steps


def instantiate(api: httpx.Client, template: str, **parameters: object) -> str:
    response = api.post(
        f"/workflow-templates/{template}/instantiate", json={"parameters": parameters}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["name"])


def test_the_library_lists_each_template_with_its_parameters(api: httpx.Client) -> None:
    listed = {t["name"]: t for t in api.get("/workflow-templates").json()}
    assert {"research-and-report", "support-pipeline", "content-review", "brief"} <= set(listed)
    assert "banned" in [p["name"] for p in listed["support-pipeline"]["parameters"]]
    unknown = api.post(
        "/workflow-templates/support-pipeline/instantiate", json={"parameters": {"nope": 1}}
    )
    assert unknown.status_code == 422 and "nope" in unknown.json()["detail"]


def test_research_and_report_researches_in_parallel_and_files_a_document(
    api: httpx.Client, start_workflows: StartWorkflows
) -> None:
    name = instantiate(api, "research-and-report", questions=2)
    start_workflows()
    done = run_until(api, start(api, name, topic="coral reefs")["run_id"], "succeeded", "failed")
    assert done["status"] == "succeeded", done["error"]
    by_key = steps(done)
    items = [k for k in by_key if k.startswith("research[")]
    assert 1 <= len(items) <= 2
    document = api.get(f"/documents/{done['outputs']['document_id']}").json()
    assert document["title"] == "Report: coral reefs"
    assert document["content"] == done["outputs"]["report"].strip()


@pytest.mark.parametrize("banned", ["[]", "[reply]"])
def test_the_support_pipeline_sends_clean_replies_and_holds_flagged_ones(
    api: httpx.Client, start_workflows: StartWorkflows, banned: str
) -> None:
    name = instantiate(api, "support-pipeline", banned=banned)
    start_workflows()
    run = start(api, name, query="My invoice is wrong, mail me at ann@example.com", customer="Ann")
    order = ["analysis", "expert", "response", "guardrails", "check"]
    if banned == "[]":
        done = run_until(api, run["run_id"], "succeeded", "failed")
        by_key = steps(done)
        assert [by_key[k]["status"] for k in order] == ["succeeded"] * 5
        assert by_key["send"]["status"] == "succeeded"
        assert by_key["escalate"]["status"] == "skipped"
        assert done["outputs"]["sent"] is True
        assert "ann@example.com" not in done["outputs"]["reply"]
    else:  # the offline model's reply says "reply": the guardrails flag it for a person
        waiting = run_until(api, run["run_id"], "waiting", "failed")
        assert steps(waiting)["escalate"]["status"] == "waiting"
        assert "banned term: reply" in steps(waiting)["escalate"]["details"]["message"]
        decided = api.post(
            f"/workflow-runs/{run['run_id']}/approvals",
            json={"node": "escalate", "approved": False},
        )
        assert decided.status_code == 200
        done = run_until(api, run["run_id"], "succeeded")
        assert steps(done)["send"]["status"] == "skipped"
        assert done["outputs"]["sent"] is False


def test_content_review_publishes_when_approved(
    api: httpx.Client, start_workflows: StartWorkflows
) -> None:
    name = instantiate(api, "content-review", name="launch-post")
    assert name == "launch-post"
    start_workflows()
    run = run_until(api, start(api, name, brief="Our spring launch")["run_id"], "waiting")
    api.post(f"/workflow-runs/{run['run_id']}/approvals", json={"node": "review", "approved": True})
    done = run_until(api, run["run_id"], "succeeded")
    assert done["outputs"]["published"] is True and done["outputs"]["revision"] is None
    assert api.get(f"/documents/{done['outputs']['document_id']}").json()["title"] == (
        "Our spring launch"
    )
