import { fireEvent, screen, waitFor } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import type { Task } from "../../api/schema.gen";
import { fakeApi, me, renderWithApp, signIn } from "../../test/utils";
import { ReviewActions } from "./TaskActions";
import { TaskQuestions } from "./TaskQuestions";

const task = { task_id: "t1", title: "Draft", status: "review", assignee_ids: ["a1"] } as Task;

beforeEach(() => signIn());

describe("ReviewActions", () => {
  it("approves work in review", async () => {
    const calls = fakeApi(({ url }) => (url.pathname.endsWith("/status") ? { json: { ...task, status: "done" } } : undefined));
    renderWithApp(<ReviewActions task={task} />);
    fireEvent.click(screen.getByRole("button", { name: "Approve" }));
    await waitFor(() => expect(calls.some((c) => c.path === "/api/v1/tasks/t1/status")).toBe(true));
    expect(calls.find((c) => c.path === "/api/v1/tasks/t1/status")!.body).toEqual({ status: "done", reason: "approved by a person" });
  });

  it("returns work with a comment in the thread", async () => {
    const calls = fakeApi(({ url }) => (url.pathname.startsWith("/api/v1/tasks/t1") ? { json: {} } : undefined));
    renderWithApp(<ReviewActions task={task} />);
    fireEvent.change(screen.getByLabelText("Comment for the assignee (when returning)"), { target: { value: "Add sources" } });
    fireEvent.click(screen.getByRole("button", { name: "Return" }));
    await waitFor(() => expect(calls.filter((c) => c.method === "POST")).toHaveLength(2));
    const [message, move] = calls.filter((c) => c.method === "POST");
    expect(message!.path).toBe("/api/v1/tasks/t1/messages");
    expect(message!.body).toEqual({ content: "Add sources" });
    expect(move!.body).toEqual({ status: "in_progress", reason: "Add sources" });
  });
});

describe("TaskQuestions", () => {
  const question = {
    question_id: "q1", agent_id: "a1", task_id: "t1", message_id: null, question: "Which audience?",
    status: "open", answer: null, answered_by_user_id: null, created_at: "2026-01-01T00:00:00Z", answered_at: null,
  };

  it("lets an operator answer an agent's question", async () => {
    const calls = fakeApi(({ method, url }) => {
      if (url.pathname === "/api/v1/auth/me") return { json: me("operator") };
      if (url.pathname === "/api/v1/agents") return { json: { items: [{ agent_id: "a1", name: "writer" }], next_cursor: null } };
      if (url.pathname === "/api/v1/questions" && method === "GET") return { json: { items: [question], next_cursor: null } };
      if (url.pathname === "/api/v1/questions/q1/answer") return { json: { ...question, status: "answered" } };
      return undefined;
    });
    renderWithApp(<TaskQuestions taskId="t1" />);
    expect(await screen.findByText("Which audience?")).toBeTruthy();
    fireEvent.change(await screen.findByLabelText("Your answer"), { target: { value: "Operators" } });
    fireEvent.click(screen.getByRole("button", { name: "Answer" }));
    await waitFor(() => expect(calls.find((c) => c.path === "/api/v1/questions/q1/answer")?.body).toEqual({ answer: "Operators" }));
  });

  it("shows a viewer the question but no answer form", async () => {
    fakeApi(({ url }) =>
      url.pathname === "/api/v1/auth/me" ? { json: me("viewer") } : url.pathname === "/api/v1/questions" ? { json: { items: [question], next_cursor: null } } : undefined,
    );
    renderWithApp(<TaskQuestions taskId="t1" />);
    expect(await screen.findByText("Which audience?")).toBeTruthy();
    await waitFor(() => expect(screen.queryByLabelText("Your answer")).toBeNull());
  });
});
