import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { GoalProgress } from "../../api/schema.gen";
import { renderWithApp } from "../../test/utils";
import { GoalProgressView } from "./GoalProgressCard";

const progress: GoalProgress = {
  goal: { task_id: "g", title: "Ship the brief", status: "in_progress", status_reason: null, priority: "normal", assignees: ["orchestrator"], created_at: "2026-01-01T00:00:00Z", completed_at: null },
  subtasks: [
    { task_id: "s1", title: "Research", status: "done", status_reason: null, assignees: ["researcher"], depends_on: [] },
    { task_id: "s2", title: "Draft", status: "in_progress", status_reason: null, assignees: ["writer"], depends_on: ["s1"] },
  ],
  counts: { done: 1, in_progress: 1 },
  agents: [],
  cost_usd: 0.0123,
  input_tokens: 1000,
  output_tokens: 500,
  requests: 4,
  unpriced_requests: 0,
  documents: [],
  attention: [{ kind: "question", summary: "writer asks: which audience?", task_id: "s2", subject_id: null, reason: null, event_id: 1, created_at: null }],
  is_finished: false,
  needs_person: true,
};

describe("GoalProgressView", () => {
  it("shows subtasks, how far it got, cost, and what needs a person", () => {
    renderWithApp(<GoalProgressView progress={progress} />);
    expect(screen.getAllByTestId("goal-subtask")).toHaveLength(2);
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("50");
    expect(document.body.textContent).toContain("1 of 2 subtasks done · $0.01 · 1.5k tokens · 4 model calls");
    expect(screen.getByRole("list", { name: "Needs a person" }).textContent).toContain("which audience?");
  });
});
