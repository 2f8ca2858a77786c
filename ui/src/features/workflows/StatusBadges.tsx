// Run and step statuses as badges, the same colours everywhere (list, run view, graph, timeline).
import type { RunStatus, StepStatus } from "../../api/schema.gen";
import { Badge, type Tone } from "../../components/Badge";

export const RUN_TONES: Record<RunStatus, Tone> = {
  queued: "slate",
  running: "amber",
  waiting: "violet",
  paused: "blue",
  succeeded: "green",
  failed: "red",
  cancelled: "slate",
};

const STEP_TONES: Record<StepStatus, Tone> = {
  pending: "slate",
  running: "amber",
  waiting: "violet",
  succeeded: "green",
  failed: "red",
  skipped: "slate",
  cancelled: "slate",
};

/** Small inline labels (graph nodes). */
export const STEP_STATUS_TONES: Record<StepStatus, string> = {
  pending: "bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-200",
  running: "bg-amber-200 text-amber-900 dark:bg-amber-800 dark:text-amber-100",
  waiting: "bg-violet-200 text-violet-900 dark:bg-violet-800 dark:text-violet-100",
  succeeded: "bg-emerald-200 text-emerald-900 dark:bg-emerald-800 dark:text-emerald-100",
  failed: "bg-rose-200 text-rose-900 dark:bg-rose-800 dark:text-rose-100",
  skipped: "bg-slate-100 text-slate-500 dark:bg-slate-800 dark:text-slate-400",
  cancelled: "bg-slate-200 text-slate-600 dark:bg-slate-700 dark:text-slate-300",
};

/** Timeline bars. */
export const STEP_BAR_TONES: Record<StepStatus, string> = {
  pending: "bg-slate-300 dark:bg-slate-600",
  running: "bg-amber-500 animate-pulse",
  waiting: "bg-violet-500",
  succeeded: "bg-emerald-500",
  failed: "bg-rose-600",
  skipped: "bg-slate-300 dark:bg-slate-700",
  cancelled: "bg-slate-400 dark:bg-slate-600",
};

export function RunStatusBadge({ status }: { status: RunStatus }) {
  return (
    <span data-testid="run-status" data-status={status}>
      <Badge tone={RUN_TONES[status]}>{status}</Badge>
    </span>
  );
}

export function StepStatusBadge({ status }: { status: StepStatus }) {
  return <Badge tone={STEP_TONES[status]}>{status}</Badge>;
}

export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = ["queued", "running", "waiting", "paused"];
