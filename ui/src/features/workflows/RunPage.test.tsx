import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { beforeEach, describe, expect, it } from "vitest";
import type { Role, Step, WorkflowRun } from "../../api/schema.gen";
import { fakeApi, me, renderWithApp, signIn, stubResizeObserver } from "../../test/utils";
import RunPage from "./RunPage";

const step = (key: string, type: string, status: Step["status"], extra: Partial<Step> = {}): Step => ({
  step_key: key, node_id: key, node_type: type, item_index: null, status, attempts: 1,
  inputs: {}, output: null, error: null, error_class: null, logs: [], details: {}, is_cache_hit: false,
  cost_nanos: 0, duration_ms: status === "waiting" ? null : 12, started_at: "2026-01-01T12:00:00Z",
  finished_at: status === "waiting" ? null : "2026-01-01T12:00:01Z", wake_at: null, ...extra,
});

const run: WorkflowRun = {
  run_id: "r1", workflow: "content-review", version: 1, status: "waiting", inputs: { brief: "Otters" },
  outputs: null, error: null, failed_step: null, trigger_kind: "api", trigger_id: null, parent_run_id: null,
  started_by: "user:u1", cost_nanos: 0, steps_done: 1, created_at: "2026-01-01T12:00:00Z",
  started_at: "2026-01-01T12:00:00Z", finished_at: null,
  steps: [
    step("draft", "llm", "succeeded", { output: { text: "A draft about otters" }, logs: ["attempt 1 ok"] }),
    step("review", "approval", "waiting", { details: { message: "Publish the otters post?", default: "reject" } }),
  ],
};

const graph = {
  nodes: [{ id: "draft", type: "llm", needs: [], description: "" }, { id: "review", type: "approval", needs: ["draft"], description: "" }],
  edges: [{ source: "draft", target: "review", kind: "needs" }],
  order: ["draft", "review"],
};

function serve(role: Role) {
  return fakeApi(({ method, url }) => {
    if (url.pathname === "/api/v1/auth/me") return { json: me(role) };
    if (url.pathname === "/api/v1/workflow-runs/r1") return { json: run };
    if (url.pathname === "/api/v1/workflows/content-review/versions/1") return { json: { name: "content-review", version: 1, source: "name: content-review\n" } };
    if (url.pathname === "/api/v1/workflows/validate") return { json: { is_valid: true, name: "content-review", errors: [], graph } };
    if (method === "POST" && url.pathname === "/api/v1/workflow-runs/r1/approvals") return { json: run };
    return undefined;
  });
}

const renderRun = () =>
  renderWithApp(<Routes><Route path="/workflow-runs/:runId" element={<RunPage />} /></Routes>, { route: "/workflow-runs/r1" });

beforeEach(() => {
  signIn();
  stubResizeObserver();
});

describe("RunPage", () => {
  it("lets an operator approve a waiting step with a comment", async () => {
    const calls = serve("operator");
    renderRun();
    const approval = await screen.findByRole("region", { name: "Approval review" });
    expect(approval.textContent).toContain("Publish the otters post?");
    fireEvent.change(await within(approval).findByLabelText("Comment"), { target: { value: "Looks good" } });
    fireEvent.click(within(approval).getByRole("button", { name: "Approve" }));
    await waitFor(() => expect(calls.find((c) => c.path === "/api/v1/workflow-runs/r1/approvals")?.body).toEqual({ node: "review", approved: true, comment: "Looks good" }));
  });

  it("shows the steps on the timeline, a step's detail, and the graph by status", async () => {
    serve("operator");
    renderRun();
    const rows = await screen.findAllByTestId("timeline-step");
    expect(rows.map((row) => [row.dataset.step, row.dataset.status])).toEqual([["draft", "succeeded"], ["review", "waiting"]]);
    // The approval that needs a person is shown first; picking another step shows it.
    expect(screen.getByTestId("step-detail").textContent).toContain("review");
    fireEvent.click(rows[0]!);
    expect(screen.getByTestId("step-detail").textContent).toContain("A draft about otters");
    expect(screen.getByTestId("step-detail").textContent).toContain("attempt 1 ok");
    await waitFor(() => expect(document.querySelector('[data-node-id="review"]')?.getAttribute("data-status")).toBe("waiting"));
    expect(document.querySelector('[data-node-id="draft"]')?.getAttribute("data-status")).toBe("succeeded");
  });

  it("shows a viewer the approval but no way to decide, pause or cancel", async () => {
    serve("viewer");
    renderRun();
    const approval = await screen.findByRole("region", { name: "Approval review" });
    await screen.findByTestId("timeline");
    expect(within(approval).queryByRole("button", { name: "Approve" })).toBeNull();
    expect(approval.textContent).toContain("An operator, developer or admin decides.");
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Pause" })).toBeNull();
  });
});
