import { describe, expect, it } from "vitest";
import { duration, MIN_WIDTH_PCT, timeline } from "./timeline";

const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, seconds)).toISOString();
const step = (key: string, start: number, end: number | null) => ({
  step_key: key,
  started_at: at(start),
  finished_at: end === null ? null : at(end),
  duration_ms: end === null ? null : (end - start) * 1000,
});

describe("timeline", () => {
  it("places each bar on the run's span, from its start to its end", () => {
    const { rows, totalMs, ticks } = timeline([step("a", 0, 10), step("b", 10, 40)], { now: Date.parse(at(99)), startedAt: at(0), finishedAt: at(40) });
    expect(totalMs).toBe(40_000);
    expect(rows.map((r) => [r.step.step_key, r.startPct, r.widthPct, r.isOpen])).toEqual([
      ["a", 0, 25, false],
      ["b", 25, 75, false],
    ]);
    expect(ticks.map((t) => t.label)).toEqual(["0", "+10 s", "+20 s", "+30 s", "+40 s"]);
  });

  it("runs an open step to now, and the span with it", () => {
    const { rows, totalMs } = timeline([step("a", 0, 5), step("wait", 5, null)], { now: Date.parse(at(20)), startedAt: at(0) });
    expect(totalMs).toBe(20_000);
    expect(rows[1]).toMatchObject({ startPct: 25, widthPct: 75, isOpen: true, durationMs: 15_000 });
  });

  it("gives an instant step a visible bar that stays inside the track", () => {
    const { rows } = timeline([step("a", 0, 60), step("instant", 60, 60)], { now: Date.parse(at(60)) });
    expect(rows[1]!.widthPct).toBe(MIN_WIDTH_PCT);
    expect(rows[1]!.startPct + rows[1]!.widthPct).toBeLessThanOrEqual(100);
  });

  it("handles a run with no steps or a zero span", () => {
    expect(timeline([], { now: 0 }).rows).toEqual([]);
    const { rows } = timeline([step("a", 0, 0)], { now: Date.parse(at(0)) });
    expect(rows[0]).toMatchObject({ startPct: 0, widthPct: MIN_WIDTH_PCT });
  });
});

describe("duration", () => {
  it("reads like a person would say it", () => {
    expect(duration(12.4)).toBe("12 ms");
    expect(duration(3_400)).toBe("3.4 s");
    expect(duration(42_000)).toBe("42 s");
    expect(duration(125_000)).toBe("2m 05s");
    expect(duration(3_720_000)).toBe("1h 02m");
    expect(duration(2 * 86_400_000 + 3_600_000)).toBe("2d 1h");
    expect(duration(-1)).toBe("—");
  });
});
