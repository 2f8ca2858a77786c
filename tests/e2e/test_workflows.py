"""Workflows in a real browser against the real server: a template made into a workflow, a run
started from its inputs, approved from the run view and finished; the YAML editor's faults on the
graph, versions and their diff; a dead letter resumed on a fixed version."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    VIEWER_EMAIL,
    VIEWER_PASSWORD,
    Dashboard,
    shoot,
    sign_in,
    sign_in_admin,
)

YAML = {"content-type": "application/yaml"}


@pytest.fixture(autouse=True)
def _patient(patient_page: Page) -> None:
    """Every test here drives the page with the longer timeout."""


def test_template_run_approved_from_the_run_view(page: Page, dashboard: Dashboard) -> None:
    sign_in_admin(page, dashboard)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workflows").click()
    expect(page.get_by_role("heading", name="Workflows", exact=True)).to_be_visible()

    page.get_by_role("button", name="New from template").click()
    dialog = page.get_by_role("dialog", name="New workflow from a template")
    dialog.get_by_role("radio", name="Content review with approval").check()
    expect(dialog.get_by_label("review_seconds")).to_have_value("86400")
    dialog.get_by_label("name", exact=True).fill("review-flow")
    dialog.get_by_role("button", name="Create workflow").click()

    # The new workflow's page draws its graph: one node per step, coloured by type.
    expect(page).to_have_url(re.compile(r"/workflows/review-flow$"))
    expect(page.get_by_role("heading", name="review-flow")).to_be_visible()
    nodes = page.get_by_test_id("workflow-graph").get_by_test_id("graph-node")
    expect(nodes).to_have_count(5)
    expect(page.get_by_role("list", name="Node types")).to_contain_text("approval")
    shoot(page, "workflow-graph")

    # The start-run form comes from the definition's inputs: `brief` is required.
    page.get_by_role("tab", name="Runs").click()
    form = page.get_by_role("form", name="Start a run")
    form.get_by_role("button", name="Start run").click()
    expect(form.get_by_role("alert")).to_have_text("Required.")
    form.get_by_label("brief").fill("A post about sea otters")
    form.get_by_role("button", name="Start run").click()

    # The run view: the draft is written, then the run waits for a person.
    expect(page).to_have_url(re.compile(r"/workflow-runs/[0-9a-f-]+$"))
    status = page.get_by_test_id("run-status")
    expect(status).to_have_attribute("data-status", "waiting", timeout=30_000)
    approval = page.get_by_role("region", name="Approval review")
    expect(approval).to_contain_text(
        "Publish this draft of a blog post on A post about sea otters?"
    )
    expect(page.locator('[data-testid="timeline-step"][data-step="draft"]')).to_have_attribute(
        "data-status", "succeeded"
    )
    graph = page.get_by_test_id("workflow-graph")
    expect(graph.locator('[data-node-id="review"]')).to_have_attribute("data-status", "waiting")
    page.set_viewport_size({"width": 1280, "height": 1500})  # tall enough for the timeline
    shoot(page, "workflow-run-waiting")

    approval.get_by_label("Comment").fill("Ship it")
    approval.get_by_role("button", name="Approve").click()

    # Live: the decision and the rest of the run arrive without a reload.
    expect(status).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(approval).to_have_count(0)
    steps = page.get_by_test_id("timeline-step")
    expect(steps).to_have_count(5)
    expected = {
        "draft": "succeeded",
        "review": "succeeded",
        "decide": "succeeded",
        "publish": "succeeded",
        "revise": "skipped",
    }
    for key, step_status in expected.items():
        expect(steps.and_(page.locator(f'[data-step="{key}"]'))).to_have_attribute(
            "data-status", step_status
        )
    expect(graph.locator('[data-node-id="revise"]')).to_have_attribute("data-status", "skipped")
    expect(page.get_by_test_id("run-outputs")).to_contain_text("document_id")

    # A step's detail: its inputs, output and logs.
    steps.and_(page.locator('[data-step="review"]')).click()
    detail = page.get_by_test_id("step-detail")
    expect(detail).to_contain_text('"approved": true')
    expect(detail).to_contain_text('"comment": "Ship it"')
    expect(detail.get_by_role("list", name="Logs")).to_contain_text("approved by")
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "workflow-run")

    # The list, with a second workflow whose run waits for a person.
    with dashboard.api() as api:
        api.post("/workflow-templates/brief/instantiate", json={}).raise_for_status()
        api.post("/workflows/brief/runs", json={"inputs": {"topic": "tides"}}).raise_for_status()
    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto("/workflows")
    row = page.get_by_test_id("workflow-row").filter(has_text="review-flow")
    expect(row.get_by_role("link", name=re.compile(r"^Run \w+: succeeded$"))).to_have_count(1)
    brief = page.get_by_test_id("workflow-row").filter(has_text="brief")
    expect(brief.get_by_role("link", name=re.compile(r"^Run \w+: waiting$"))).to_have_count(1)
    shoot(page, "workflows")


def test_editor_shows_faults_on_the_graph_and_versions_diff(
    page: Page, dashboard: Dashboard
) -> None:
    sign_in_admin(page, dashboard)
    page.goto("/workflows")
    page.get_by_role("button", name="New", exact=True).click()
    expect(page.get_by_role("heading", name="New workflow")).to_be_visible()
    editor = page.get_by_label("Definition (YAML)")
    status = page.get_by_test_id("definition-status")

    good = (
        "name: e2e-editor\n"
        "nodes:\n"
        "  first: {type: tool, tool: noop, args: {x: 1}}\n"
        "  second: {type: tool, tool: noop, needs: [first]}\n"
    )
    editor.fill(good)
    expect(status).to_have_text(re.compile("Valid · 2 nodes"))
    second = page.get_by_test_id("workflow-graph").locator('[data-node-id="second"]')
    expect(second).to_be_visible()
    expect(second).not_to_have_attribute("data-has-errors", "true")

    # A need that names no node: listed with its line, and the node outlined on the graph.
    editor.fill(good.replace("needs: [first]", "needs: [first, missing]"))
    errors = page.get_by_test_id("definition-errors")
    expect(errors).to_contain_text("line 4")
    expect(errors).to_contain_text("no node 'missing'")
    expect(errors).to_contain_text("(node second)")
    expect(second).to_have_attribute("data-has-errors", "true")
    shoot(page, "workflow-editor-errors")

    editor.fill(good)
    expect(status).to_have_text(re.compile("Valid"))
    page.get_by_role("button", name="Save version").click()
    expect(page).to_have_url(re.compile(r"/workflows/e2e-editor$"))

    page.get_by_role("tab", name="Definition").click()
    editor = page.get_by_label("Definition (YAML)")
    expect(editor).to_have_value(good)
    editor.fill(good.replace("x: 1", "x: 2"))
    page.get_by_label("Note (optional)").fill("x is two")
    page.get_by_role("button", name="Save version").click()
    expect(page.get_by_test_id("toast").filter(has_text="Saved e2e-editor v2")).to_be_visible()

    page.get_by_role("tab", name="Versions").click()
    expect(page.get_by_test_id("version-row")).to_have_count(2)
    page.get_by_label("From", exact=True).select_option("1")
    page.get_by_label("To", exact=True).select_option("2")
    diff = page.get_by_test_id("workflow-diff")
    expect(diff).to_contain_text("nodes.first.args.x")
    expect(diff).to_contain_text("+  first: {type: tool, tool: noop, args: {x: 2}}")
    page.get_by_role("button", name="Publish v1").click()
    expect(page.get_by_text("published v1", exact=True)).to_be_visible()
    expect(page.get_by_test_id("version-row").nth(1)).to_contain_text("published")
    shoot(page, "workflow-versions")


def test_dead_letter_resumed_on_a_fixed_version(page: Page, dashboard: Dashboard) -> None:
    broken = (
        "name: e2e-failing\n"
        "nodes:\n"
        "  prepare: {type: tool, tool: noop, args: {ready: true}}\n"
        "  call: {type: http, needs: [prepare], url: 'http://127.0.0.1:9/hook'}\n"
    )
    with dashboard.api() as api:
        api.post("/workflows", content=broken, headers=YAML).raise_for_status()
        run_id = api.post("/workflows/e2e-failing/runs", json={"inputs": {}}).json()["run_id"]
        deadline = time.monotonic() + 30
        while api.get(f"/workflow-runs/{run_id}").json()["status"] != "failed":
            assert time.monotonic() < deadline, "the run did not fail"
            time.sleep(0.3)
        fixed = broken.replace(
            "{type: http, needs: [prepare], url: 'http://127.0.0.1:9/hook'}",
            "{type: tool, needs: [prepare], tool: noop, args: {called: true}}",
        )
        api.post("/workflows", content=fixed, headers=YAML).raise_for_status()

    sign_in_admin(page, dashboard)
    page.goto("/workflows")
    page.get_by_role("link", name=re.compile("Dead letters")).click()
    letter = page.get_by_test_id("dead-letter").filter(has_text="e2e-failing")
    expect(letter).to_contain_text("Failed at call")
    expect(letter).to_contain_text("not an allowed host")
    shoot(page, "workflow-dead-letters")

    letter.get_by_role("link", name=re.compile(r"^run ")).click()
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "failed")
    page.get_by_label("Resume on").select_option("2")
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "succeeded", timeout=30_000
    )
    expect(page.locator('[data-testid="timeline-step"][data-step="call"]')).to_have_attribute(
        "data-status", "succeeded"
    )
    page.goto("/workflow-dead-letters")
    expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()
    expect(page.get_by_test_id("dead-letter").filter(has_text="e2e-failing")).to_have_count(0)


def test_viewer_sees_workflows_but_no_controls(page: Page, dashboard: Dashboard) -> None:
    definition = "name: e2e-viewer\nnodes:\n  only: {type: tool, tool: noop, args: {}}\n"
    with dashboard.api() as api:
        api.post("/workflows", content=definition, headers=YAML).raise_for_status()
        api.post("/workflows/e2e-viewer/runs", json={"inputs": {}}).raise_for_status()

    sign_in(page, VIEWER_EMAIL, VIEWER_PASSWORD)
    page.goto("/workflows")
    expect(page.get_by_role("heading", name="Workflows", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="New from template")).to_have_count(0)
    expect(page.get_by_role("button", name="New", exact=True)).to_have_count(0)
    page.get_by_test_id("workflow-row").get_by_role("link", name="e2e-viewer").click()
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    page.get_by_role("tab", name="Runs").click()
    expect(page.get_by_test_id("run-row").first).to_be_visible()
    expect(page.get_by_role("form", name="Start a run")).to_have_count(0)
    page.get_by_role("tab", name="Definition").click()
    expect(page.get_by_label("Definition (YAML)")).to_have_attribute("readonly", "")
    expect(page.get_by_role("button", name="Save version")).to_have_count(0)
