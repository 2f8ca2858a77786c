// Test helpers: a fake API behind fetch, a signed-in session, and the app's providers.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router";
import { vi } from "vitest";
import type { Me, Role } from "../api/schema.gen";
import { session } from "../api/session";
import { ToastProvider } from "../components/Toast";

export type Handler = (request: { method: string; url: URL; body: unknown; headers: Headers }) =>
  | { status?: number; json?: unknown }
  | undefined;

export interface Call {
  method: string;
  path: string;
  body: unknown;
  headers: Headers;
}

/** Route fetch to `handler` (by method and path); unknown routes answer 404. */
export function fakeApi(handler: Handler): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal("fetch", async (input: string, init: RequestInit = {}) => {
    const url = new URL(input, "http://localhost");
    const method = init.method ?? "GET";
    const headers = new Headers(init.headers);
    const isJson = headers.get("content-type")?.includes("json") ?? true;
    const body = typeof init.body === "string" ? (isJson ? JSON.parse(init.body) : init.body) : undefined;
    calls.push({ method, path: url.pathname + url.search, body, headers });
    const answer = handler({ method, url, body, headers });
    const status = answer?.status ?? (answer ? 200 : 404);
    const payload = answer?.json ?? (answer ? {} : { code: "not_found", detail: "Not found" });
    const type = status >= 400 ? "application/problem+json" : "application/json";
    return new Response(status === 204 ? null : JSON.stringify(payload), {
      status,
      headers: { "content-type": type },
    });
  });
  return calls;
}

export function me(role: Role, userId = "user-1"): Me {
  return {
    kind: "user",
    user: { user_id: userId, email: "p@example.com", display_name: "Pat", is_active: true, created_at: "2026-01-01T00:00:00Z" },
    api_key_id: null,
    agent_id: null,
    tenant: { tenant_id: "t1", slug: "default", name: "Default" },
    role,
  };
}

/** jsdom has no ResizeObserver; @xyflow/react needs one to render its nodes. */
export function stubResizeObserver(): void {
  vi.stubGlobal(
    "ResizeObserver",
    class {
      observe() {}
      unobserve() {}
      disconnect() {}
    },
  );
}

export function signIn(): void {
  session.start({ access_token: "access", refresh_token: "refresh", expires_in: 900 }, null);
}

export function renderWithApp(ui: ReactNode, { route = "/" }: { route?: string } = {}) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <ToastProvider>
        <MemoryRouter initialEntries={[route]}>{ui}</MemoryRouter>
      </ToastProvider>
    </QueryClientProvider>,
  );
}
