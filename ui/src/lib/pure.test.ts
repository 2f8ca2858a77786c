import { describe, expect, it } from "vitest";
import type { Event, Task, UsageReport } from "../api/schema.gen";
import { filterTasks } from "../features/command/BoardFilter";
import { mergeEvents } from "../features/command/ActivityFeed";
import { fillDays } from "../features/usage/UsagePage";
import { relativeTime, usd } from "./format";
import { staleKeysFor } from "./keys";
import { allowed } from "./permissions";

describe("permissions", () => {
  it("mirror the API's table for people", () => {
    expect(allowed("viewer", "board:read")).toBe(true);
    expect(allowed("viewer", "tasks:write")).toBe(false);
    expect(allowed("viewer", "notifications:write")).toBe(false);
    expect(allowed("operator", "tasks:write")).toBe(true);
    expect(allowed("operator", "agents:write")).toBe(false);
    expect(allowed("developer", "agents:write")).toBe(true);
    expect(allowed("developer", "users:manage")).toBe(false);
    expect(allowed("admin", "audit:read")).toBe(true);
    expect(allowed(undefined, "board:read")).toBe(false);
  });
});

describe("format", () => {
  it("prints money and times for people", () => {
    expect(usd(0)).toBe("$0.00");
    expect(usd(0.004)).toBe("$0.0040");
    expect(usd(12.345)).toBe("$12.35");
    expect(usd(null)).toBe("—");
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(relativeTime("2026-01-01T11:59:30Z", now)).toBe("30s ago");
    expect(relativeTime("2026-01-01T09:00:00Z", now)).toBe("3h ago");
    expect(relativeTime(null, now)).toBe("never");
  });
});

describe("live invalidation", () => {
  it("maps event types to the queries they make stale", () => {
    expect(staleKeysFor("task.status_changed")).toContainEqual(["tasks"]);
    expect(staleKeysFor("message.created")).toContainEqual(["messages"]);
    expect(staleKeysFor("document.updated")).toContainEqual(["documents"]);
    expect(staleKeysFor("job.finished")).toEqual([]);
  });
});

describe("activity feed", () => {
  const e = (id: number) => ({ event_id: id }) as Event;
  it("merges live and fetched events newest first without duplicates", () => {
    expect(mergeEvents([e(5), e(4)], [e(4), e(3)]).map((x) => x.event_id)).toEqual([5, 4, 3]);
  });
});

describe("usage by day", () => {
  it("fills days with no usage", () => {
    const group = { key: "2026-01-02", requests: 1, input_tokens: 1, output_tokens: 1, cost_usd: 1, unpriced_requests: 0, cache_hits: 0, errors: 0, avg_latency_ms: 1 };
    const report = { group_by: "day", since: null, until: null, total: group, groups: [group] } as UsageReport;
    const days = fillDays(report, "2026-01-01", "2026-01-03");
    expect(days.map((d) => [d.day, d.group?.cost_usd ?? 0])).toEqual([["2026-01-01", 0], ["2026-01-02", 1], ["2026-01-03", 0]]);
  });
});

describe("board filter", () => {
  const task = (title: string, assignees: string[]) => ({ title, assignee_ids: assignees }) as Task;
  it("keeps tasks with every word in the title, assigned to the agent", () => {
    const tasks = [task("Draft the brief", ["w"]), task("Review the brief", ["r"]), task("Draft notes", ["r"])];
    expect(filterTasks(tasks, { text: "draft", agentId: "" }).map((t) => t.title)).toEqual(["Draft the brief", "Draft notes"]);
    expect(filterTasks(tasks, { text: "brief", agentId: "r" }).map((t) => t.title)).toEqual(["Review the brief"]);
    expect(filterTasks(tasks, { text: "", agentId: "" })).toHaveLength(3);
  });
});
