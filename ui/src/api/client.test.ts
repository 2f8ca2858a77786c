import { afterEach, describe, expect, it, vi } from "vitest";
import { api, ApiError } from "./client";
import { session } from "./session";

afterEach(() => vi.unstubAllGlobals());

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

describe("api client", () => {
  it("refreshes an expired token once for concurrent requests, then retries them", async () => {
    session.start({ access_token: "old", refresh_token: "r1", expires_in: 900 }, null);
    let refreshes = 0;
    vi.stubGlobal("fetch", async (url: string, init: RequestInit = {}) => {
      if (url.endsWith("/auth/refresh")) {
        refreshes += 1;
        return json(200, { access_token: "new", refresh_token: "r2", expires_in: 900 });
      }
      const auth = new Headers(init.headers).get("authorization");
      return auth === "Bearer new" ? json(200, { ok: true }) : json(401, { code: "unauthenticated" });
    });
    const results = await Promise.all([api("/tasks"), api("/agents")]);
    expect(results).toEqual([{ ok: true }, { ok: true }]);
    expect(refreshes).toBe(1);
    expect(session.get()?.refreshToken).toBe("r2");
  });

  it("ends the session as expired when the refresh is refused", async () => {
    session.start({ access_token: "old", refresh_token: "gone", expires_in: 900 }, null);
    vi.stubGlobal("fetch", async () => json(401, { code: "unauthenticated", detail: "token expired" }));
    await expect(api("/tasks")).rejects.toBeInstanceOf(ApiError);
    expect(session.get()).toBeNull();
    expect(session.lastSignOut()).toBe("expired");
  });

  it("turns problem+json into an ApiError with the API's reason", async () => {
    session.start({ access_token: "a", refresh_token: "r", expires_in: 900 }, null);
    vi.stubGlobal("fetch", async () =>
      json(409, { code: "invalid_transition", detail: "task cannot go from done to inbox; allowed: in_progress", allowed: ["in_progress"] }),
    );
    const error = (await api("/tasks/t/status", { method: "POST", body: { status: "inbox" } }).catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(409);
    expect(error.code).toBe("invalid_transition");
    expect(error.detail).toContain("allowed: in_progress");
    expect(error.problem.allowed).toEqual(["in_progress"]);
  });
});
