// The live event stream (Server-Sent Events read with fetch, so the token travels in a header,
// not the URL). Reconnects with backoff after a drop and resumes after the last event id seen,
// so nothing is missed and nothing arrives twice.
import { accessToken, API, authHeaders, refreshTokens } from "./client";
import type { Event } from "./schema.gen";

export type StreamStatus = "connecting" | "live" | "reconnecting" | "stopped";

export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

/** Parse complete SSE messages out of `buffer`; returns them and what is left over. */
export function parseSse(buffer: string): { messages: SseMessage[]; rest: string } {
  const messages: SseMessage[] = [];
  const blocks = buffer.replace(/\r\n/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let id: string | null = null;
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") id = value;
      else if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length || id) messages.push({ id, event, data: data.join("\n") });
  }
  return { messages, rest };
}

const SILENCE_MS = 45_000; // the server pings idle streams every 15 s
const MAX_BACKOFF_MS = 5_000;

export class EventStream {
  private controller: AbortController | null = null;
  private lastId: number | null = null;
  private backoff = 1000;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  status: StreamStatus = "connecting";

  constructor(
    private readonly onEvent: (event: Event) => void,
    private readonly onStatus: (status: StreamStatus) => void,
  ) {}

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.controller?.abort();
    this.setStatus("stopped");
  }

  /** Drop the connection now and reconnect (tests, and after the tab wakes up). */
  reconnect(): void {
    this.controller?.abort();
  }

  private setStatus(status: StreamStatus): void {
    this.status = status;
    this.onStatus(status);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const controller = new AbortController();
    this.controller = controller;
    let watchdog: ReturnType<typeof setTimeout> | null = null;
    const feed = () => {
      if (watchdog) clearTimeout(watchdog);
      watchdog = setTimeout(() => controller.abort(), SILENCE_MS);
    };
    try {
      const token = await accessToken();
      if (!token) return this.setStatus("stopped");
      const after = this.lastId === null ? "" : `?after=${this.lastId}`;
      const response = await fetch(`${API}/events/stream${after}`, {
        headers: { ...authHeaders(token), accept: "text/event-stream" },
        signal: controller.signal,
        cache: "no-store",
      });
      if (response.status === 401) {
        if (!(await refreshTokens())) return this.setStatus("stopped");
        throw new Error("token refreshed");
      }
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      this.setStatus("live");
      this.backoff = 1000;
      feed();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        feed();
        const parsed = parseSse(buffer + value);
        buffer = parsed.rest;
        for (const message of parsed.messages) this.handle(message);
      }
    } catch {
      // A drop, a timeout or an abort: fall through to reconnect.
    } finally {
      if (watchdog) clearTimeout(watchdog);
    }
    if (this.stopped) return;
    this.setStatus("reconnecting");
    this.timer = setTimeout(() => void this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }

  private handle(message: SseMessage): void {
    if (message.event === "overflow") {
      // We fell too far behind: resume after the id the server names.
      const { resume_after } = JSON.parse(message.data) as { resume_after: number };
      this.lastId = resume_after;
      this.controller?.abort();
      return;
    }
    if (!message.data) return;
    const event = JSON.parse(message.data) as Event;
    if (this.lastId !== null && event.event_id <= this.lastId) return;
    this.lastId = event.event_id;
    this.onEvent(event);
  }
}
