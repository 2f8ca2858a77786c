// Pure: where each step's bar sits on a run's timeline. No React.

/** What the timeline needs of a step (a subset of the API's Step). */
export interface TimedStep {
  step_key: string;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
}

export interface TimelineRow<T extends TimedStep> {
  step: T;
  /** Where the bar starts, in percent of the run's span. */
  startPct: number;
  /** How long it is, in percent (at least MIN_WIDTH_PCT so an instant step shows). */
  widthPct: number;
  /** Still going: the bar runs to now. */
  isOpen: boolean;
  durationMs: number;
}

export interface Timeline<T extends TimedStep> {
  rows: TimelineRow<T>[];
  totalMs: number;
  ticks: { pct: number; label: string }[];
}

export const MIN_WIDTH_PCT = 0.8;

/** A duration for people: 12 ms, 3.4 s, 2m 05s, 1h 02m, 3d 4h. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const whole = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (whole < 3600) return `${Math.floor(whole / 60)}m ${pad(whole % 60)}s`;
  if (whole < 86_400) return `${Math.floor(whole / 3600)}h ${pad(Math.floor((whole % 3600) / 60))}m`;
  return `${Math.floor(whole / 86_400)}d ${Math.floor((whole % 86_400) / 3600)}h`;
}

/**
 * Bars for `steps` on one scale from the run's start (or its first step) to its end (or now,
 * while a step is still open), with five ticks.
 */
export function timeline<T extends TimedStep>(
  steps: readonly T[],
  { now, startedAt, finishedAt }: { now: number; startedAt?: string | null; finishedAt?: string | null },
): Timeline<T> {
  const spans = steps.map((step) => {
    const start = Date.parse(step.started_at);
    const end = step.finished_at ? Date.parse(step.finished_at) : Math.max(now, start);
    return { step, start, end, isOpen: step.finished_at === null };
  });
  const starts = spans.map((span) => span.start);
  const ends = spans.map((span) => span.end);
  if (startedAt) starts.push(Date.parse(startedAt));
  if (finishedAt) ends.push(Date.parse(finishedAt));
  const origin = starts.length ? Math.min(...starts) : now;
  const last = ends.length ? Math.max(...ends) : origin;
  const totalMs = Math.max(last - origin, 0);
  const scale = totalMs || 1;
  const rows = spans.map(({ step, start, end, isOpen }) => {
    const widthPct = Math.max(((end - start) / scale) * 100, MIN_WIDTH_PCT);
    const startPct = Math.min(((start - origin) / scale) * 100, 100 - widthPct);
    const durationMs = step.duration_ms ?? end - start;
    return { step, startPct: Math.max(startPct, 0), widthPct: Math.min(widthPct, 100), isOpen, durationMs };
  });
  const ticks = [0, 25, 50, 75, 100].map((pct) => ({ pct, label: pct === 0 ? "0" : `+${duration((totalMs * pct) / 100)}` }));
  return { rows, totalMs, ticks };
}
