import type { AgentStatus, TaskStatus } from "../api/schema.gen";
import { STATUS_LABELS } from "../lib/format";

const TONES = {
  slate: "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
  blue: "bg-sky-100 text-sky-800 dark:bg-sky-900/50 dark:text-sky-200",
  amber: "bg-amber-100 text-amber-800 dark:bg-amber-900/50 dark:text-amber-200",
  violet: "bg-violet-100 text-violet-800 dark:bg-violet-900/50 dark:text-violet-200",
  green: "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200",
  red: "bg-rose-100 text-rose-800 dark:bg-rose-900/50 dark:text-rose-200",
  indigo: "bg-indigo-100 text-indigo-800 dark:bg-indigo-900/50 dark:text-indigo-200",
} as const;

export type Tone = keyof typeof TONES;

export function Badge({ tone = "slate", children }: { tone?: Tone; children: React.ReactNode }) {
  return (
    <span
      className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium whitespace-nowrap ${TONES[tone]}`}
    >
      {children}
    </span>
  );
}

const TASK_TONES: Record<TaskStatus, Tone> = {
  inbox: "slate",
  assigned: "blue",
  in_progress: "amber",
  review: "violet",
  done: "green",
  blocked: "red",
};

export function StatusBadge({ status }: { status: TaskStatus }) {
  return <Badge tone={TASK_TONES[status]}>{STATUS_LABELS[status]}</Badge>;
}

const AGENT_TONES: Record<AgentStatus, Tone> = { idle: "slate", active: "green", blocked: "red" };

export function AgentStatusBadge({ status }: { status: AgentStatus }) {
  return <Badge tone={AGENT_TONES[status]}>{status}</Badge>;
}
