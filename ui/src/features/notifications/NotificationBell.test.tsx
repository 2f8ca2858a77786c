import { fireEvent, screen, waitFor } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import { fakeApi, me, renderWithApp, signIn } from "../../test/utils";
import { NotificationBell } from "./NotificationBell";

const note = (id: string, isRead: boolean) => ({
  notification_id: id, recipient_agent_id: null, recipient_user_id: "user-1", task_id: "t1", message_id: null,
  kind: "escalation", content: `Note ${id}`, is_delivered: true, delivered_at: null, is_read: isRead, read_at: null,
  created_at: "2026-01-01T00:00:00Z",
});

beforeEach(() => signIn());

describe("NotificationBell", () => {
  it("counts unread notifications and marks them read one by one", async () => {
    const read = new Set<string>();
    const calls = fakeApi(({ method, url }) => {
      if (url.pathname === "/api/v1/auth/me") return { json: me("operator") };
      if (method === "PUT") {
        read.add(url.pathname.split("/")[4]!);
        return { json: {} };
      }
      if (url.pathname === "/api/v1/notifications") {
        const all = [note("n1", read.has("n1")), note("n2", read.has("n2")), note("n3", true)];
        const unreadOnly = url.searchParams.get("is_read") === "false";
        return { json: { items: unreadOnly ? all.filter((n) => !n.is_read) : all, next_cursor: null } };
      }
      return undefined;
    });
    renderWithApp(<NotificationBell />);
    expect((await screen.findByTestId("unread-count")).textContent).toBe("2");
    expect(calls.some((c) => c.path.includes("user_id=user-1"))).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: /Notifications, 2 unread/ }));
    expect(await screen.findByText("Note n1")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Mark all read" }));
    await waitFor(() => expect(screen.queryByTestId("unread-count")).toBeNull());
    expect(calls.filter((c) => c.method === "PUT").map((c) => c.path).sort()).toEqual([
      "/api/v1/notifications/n1/read",
      "/api/v1/notifications/n2/read",
    ]);
  });

  it("hides mark-read from a viewer", async () => {
    fakeApi(({ url }) =>
      url.pathname === "/api/v1/auth/me" ? { json: me("viewer") } : url.pathname === "/api/v1/notifications" ? { json: { items: [note("n1", false)], next_cursor: null } } : undefined,
    );
    renderWithApp(<NotificationBell />);
    fireEvent.click(await screen.findByRole("button", { name: /Notifications, 1 unread/ }));
    expect(await screen.findByText("Note n1")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Mark all read" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Mark read" })).toBeNull();
  });
});
