import { afterEach, describe, expect, it, vi } from "vitest";
import { session } from "./session";
import { EventStream, parseSse } from "./events";
import type { Event } from "./schema.gen";

function event(id: number): Event {
  return {
    event_id: id, event_type: "task.created", actor_kind: "user", actor_id: null, subject_kind: "task",
    subject_id: "t", task_id: "t", agent_id: null, summary: `event ${id}`, payload: {}, created_at: "2026-01-01T00:00:00Z",
  };
}

function sse(...ids: number[]): string {
  return ids.map((id) => `id: ${id}\nevent: task.created\ndata: ${JSON.stringify(event(id))}\n\n`).join("");
}

/** A response whose body is these chunks, then the end of the stream (a dropped connection). */
function streamOf(chunks: string[]): Response {
  const encoder = new TextEncoder();
  return new Response(
    new ReadableStream({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
        controller.close();
      },
    }),
    { status: 200, headers: { "content-type": "text/event-stream" } },
  );
}

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("parseSse", () => {
  it("splits complete messages and keeps the partial one", () => {
    const { messages, rest } = parseSse(": ping\n\nid: 5\nevent: x\ndata: {\"a\":1}\n\nid: 6\ndata: par");
    expect(messages).toEqual([{ id: "5", event: "x", data: '{"a":1}' }]);
    expect(rest).toBe("id: 6\ndata: par");
  });
});

describe("EventStream", () => {
  it("reconnects after a drop and resumes after the last event, without duplicates", async () => {
    vi.useFakeTimers();
    session.start({ access_token: "a", refresh_token: "r", expires_in: 900 }, "acme");
    const urls: string[] = [];
    const headers: Headers[] = [];
    const bodies = [streamOf([sse(1, 2).slice(0, 30), sse(1, 2).slice(30)]), streamOf([sse(2, 3)])];
    vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
      urls.push(url);
      headers.push(new Headers(init.headers));
      return bodies.shift() ?? new Promise<Response>(() => {});
    });
    const seen: number[] = [];
    const statuses: string[] = [];
    const stream = new EventStream((e) => seen.push(e.event_id), (s) => statuses.push(s));
    stream.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(seen).toEqual([1, 2]);
    expect(statuses).toContain("reconnecting");
    await vi.advanceTimersByTimeAsync(1500);
    expect(urls).toEqual(["/api/v1/events/stream", "/api/v1/events/stream?after=2"]);
    expect(seen).toEqual([1, 2, 3]);
    expect(headers[0]!.get("authorization")).toBe("Bearer a");
    expect(headers[0]!.get("x-tenant")).toBe("acme");
    stream.stop();
  });
});
