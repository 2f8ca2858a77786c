import { act, renderHook, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { beforeEach, describe, expect, it } from "vitest";
import type { Task } from "../../api/schema.gen";
import { fakeApi, me, renderWithApp, signIn } from "../../test/utils";
import { Kanban } from "./Kanban";
import { useMoveTask } from "./useBoard";

function task(id: string, status: Task["status"], extra: Partial<Task> = {}): Task {
  return {
    task_id: id, title: `Task ${id}`, description: "", status, status_reason: null, priority: "normal",
    is_goal: false, parent_task_id: null, assignee_ids: ["a1"], depends_on: [], created_by_kind: "user",
    created_by_agent_id: null, created_by_user_id: null, due_at: null, completed_at: null,
    created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", ...extra,
  };
}

const agents = { items: [{ agent_id: "a1", name: "writer" }], next_cursor: null };

beforeEach(() => signIn());

describe("Kanban", () => {
  it("shows every column, blocked ones with their reason", async () => {
    fakeApi(({ url }) => (url.pathname === "/api/v1/auth/me" ? { json: me("operator") } : url.pathname === "/api/v1/agents" ? { json: agents } : undefined));
    renderWithApp(<Kanban tasks={[task("1", "inbox"), task("2", "blocked", { status_reason: "waiting for a key" }), task("3", "done")]} />);
    for (const name of ["Inbox", "Assigned", "In progress", "Review", "Done", "Blocked"])
      expect(screen.getByRole("region", { name: `${name} column` })).toBeTruthy();
    const blocked = screen.getByRole("region", { name: "Blocked column" });
    expect(within(blocked).getByText("waiting for a key")).toBeTruthy();
    expect(await within(blocked).findByText("@writer")).toBeTruthy();
    await waitFor(() => expect(screen.getAllByRole("button", { name: /Press space to move it/ })).toHaveLength(3));
  });

  it("offers no dragging to a viewer", async () => {
    fakeApi(({ url }) => (url.pathname === "/api/v1/auth/me" ? { json: me("viewer") } : url.pathname === "/api/v1/agents" ? { json: agents } : undefined));
    renderWithApp(<Kanban tasks={[task("1", "inbox")]} />);
    expect(await screen.findByText("@writer")).toBeTruthy();
    expect(screen.queryByRole("button", { name: /Press space to move it/ })).toBeNull();
    expect(screen.getByTestId("task-card").getAttribute("aria-roledescription")).toBeNull();
  });
});

describe("useMoveTask", () => {
  function wrapper({ children }: { children: ReactNode }) {
    return <QueryClientProvider client={new QueryClient()}>{children}</QueryClientProvider>;
  }

  it("shows the move at once, and snaps back with the API's reason when refused", async () => {
    const calls = fakeApi(({ url }) =>
      url.pathname.endsWith("/status")
        ? { status: 409, json: { code: "invalid_transition", detail: "task cannot go from done to inbox; allowed: in_progress" } }
        : undefined,
    );
    const { result } = renderHook(() => useMoveTask(), { wrapper });
    act(() => result.current.move({ task: task("9", "done"), target: "inbox" }));
    expect(result.current.pending).toEqual({ "9": "inbox" });
    await waitFor(() => expect(result.current.refusal).not.toBeNull());
    expect(result.current.refusal?.reason).toBe("task cannot go from done to inbox; allowed: in_progress");
    expect(result.current.pending).toEqual({});
    expect(calls.find((c) => c.path === "/api/v1/tasks/9/status")?.body).toEqual({ status: "inbox" });
  });
});
