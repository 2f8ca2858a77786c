// A goal's progress: its subtasks as they move, the agents on it, cost, and what needs a person.
import { useQuery } from "@tanstack/react-query";
import { AlertTriangle, CheckCircle2, FileText } from "lucide-react";
import { Link } from "react-router";
import { goals } from "../../api/board";
import type { GoalProgress } from "../../api/schema.gen";
import { StatusBadge } from "../../components/Badge";
import { QueryState } from "../../components/States";
import { keys } from "../../lib/keys";
import { tokens, usd } from "../../lib/format";

export function useGoalProgress(goalId: string) {
  return useQuery({
    queryKey: keys.goal(goalId),
    queryFn: () => goals.progress(goalId),
    // Live events refresh it; poll slowly as well while it runs, in case the stream is down.
    refetchInterval: (query) => (query.state.data?.is_finished ? false : 5000),
  });
}

export function GoalProgressView({ progress }: { progress: GoalProgress }) {
  const total = progress.subtasks.length;
  const done = progress.counts.done ?? 0;
  const percent = total ? Math.round((done / total) * 100) : progress.is_finished ? 100 : 0;
  return (
    <div className="space-y-3" data-testid="goal-progress">
      <div className="flex flex-wrap items-center gap-2">
        <Link to={`/tasks/${progress.goal.task_id}`} className="font-medium hover:underline">
          {progress.goal.title}
        </Link>
        <StatusBadge status={progress.goal.status} />
        {progress.is_finished && <CheckCircle2 className="size-4 text-emerald-600" aria-label="Finished" />}
      </div>
      <div>
        <div
          className="h-2 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800"
          role="progressbar"
          aria-label="Subtasks done"
          aria-valuenow={percent}
          aria-valuemin={0}
          aria-valuemax={100}
        >
          <div className="h-full bg-emerald-500 transition-all" style={{ width: `${percent}%` }} />
        </div>
        <p className="mt-1 text-xs text-slate-500">
          {done} of {total} subtasks done · {usd(progress.cost_usd)} ·{" "}
          {tokens(progress.input_tokens + progress.output_tokens)} tokens · {progress.requests} model calls
        </p>
      </div>
      {total === 0 ? (
        <p className="text-sm text-slate-500">Waiting for the orchestrator to plan the subtasks…</p>
      ) : (
        <ol className="space-y-1" aria-label="Subtasks">
          {progress.subtasks.map((subtask) => (
            <li key={subtask.task_id} data-testid="goal-subtask" className="flex items-center gap-2 text-sm">
              <StatusBadge status={subtask.status} />
              <Link to={`/tasks/${subtask.task_id}`} className="min-w-0 flex-1 truncate hover:underline">
                {subtask.title}
              </Link>
              <span className="hidden text-xs text-slate-500 sm:inline">{subtask.assignees.map((name) => `@${name}`).join(" ")}</span>
            </li>
          ))}
        </ol>
      )}
      {progress.attention.length > 0 && (
        <ul className="space-y-1" aria-label="Needs a person">
          {progress.attention.map((item, index) => (
            <li key={index} className="flex items-start gap-2 rounded-md bg-amber-50 p-2 text-sm text-amber-900 dark:bg-amber-950/40 dark:text-amber-100">
              <AlertTriangle className="mt-0.5 size-4 shrink-0" aria-hidden />
              <span className="flex-1">{item.summary}</span>
              {item.task_id && <Link to={`/tasks/${item.task_id}`} className="underline">Open</Link>}
            </li>
          ))}
        </ul>
      )}
      {progress.documents.length > 0 && (
        <ul className="flex flex-wrap gap-2" aria-label="Results">
          {progress.documents.map((doc) => (
            <li key={doc.document_id}>
              <Link to={`/documents/${doc.document_id}`} className="inline-flex items-center gap-1 text-xs text-indigo-600 hover:underline dark:text-indigo-300">
                <FileText className="size-3" aria-hidden /> {doc.title}
              </Link>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function GoalProgressCard({ goalId }: { goalId: string }) {
  const query = useGoalProgress(goalId);
  return <QueryState query={query} loadingLabel="Loading the goal">{(progress) => <GoalProgressView progress={progress} />}</QueryState>;
}
