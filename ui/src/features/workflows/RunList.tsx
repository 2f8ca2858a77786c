// Runs, newest first, a page at a time; live through the event stream (workflow_run.*).
import { useInfiniteQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import type { WorkflowRun } from "../../api/schema.gen";
import { workflowRuns } from "../../api/workflows";
import { Button } from "../../components/Button";
import { Empty, ErrorState, Loading } from "../../components/States";
import { keys } from "../../lib/keys";
import { relativeTime, shortId, usd } from "../../lib/format";
import { RunStatusBadge } from "./StatusBadges";
import { duration } from "./timeline";

export function runDuration(run: WorkflowRun, now = Date.now()): string {
  if (!run.started_at) return "—";
  const end = run.finished_at ? Date.parse(run.finished_at) : now;
  return duration(end - Date.parse(run.started_at));
}

export const nanosToUsd = (nanos: number) => usd(nanos / 1e9);

export function RunList({ workflow }: { workflow?: string }) {
  const runs = useInfiniteQuery({
    queryKey: keys.workflowRunList(workflow ?? null),
    queryFn: ({ pageParam }) => workflowRuns.list({ workflow, cursor: pageParam }),
    initialPageParam: null as string | null,
    getNextPageParam: (page) => page.next_cursor ?? null,
  });
  if (runs.isPending) return <Loading label="Loading runs" />;
  if (runs.error) return <ErrorState error={runs.error} onRetry={() => void runs.refetch()} />;
  const items = runs.data.pages.flatMap((page) => page.items);
  if (items.length === 0) return <Empty title="No runs yet" />;
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-sm" aria-label="Runs">
        <thead className="text-left text-xs text-slate-500">
          <tr>
            <th className="px-3 py-2">Run</th>
            {!workflow && <th className="px-3 py-2">Workflow</th>}
            <th className="px-3 py-2">Status</th>
            <th className="px-3 py-2">Version</th>
            <th className="hidden px-3 py-2 sm:table-cell">Trigger</th>
            <th className="px-3 py-2">Queued</th>
            <th className="hidden px-3 py-2 sm:table-cell">Took</th>
            <th className="hidden px-3 py-2 md:table-cell">Cost</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
          {items.map((run) => (
            <tr key={run.run_id} data-testid="run-row">
              <td className="px-3 py-2 font-mono text-xs"><Link to={`/workflow-runs/${run.run_id}`} className="hover:underline">{shortId(run.run_id)}</Link></td>
              {!workflow && <td className="px-3 py-2"><Link to={`/workflows/${run.workflow}`} className="hover:underline">{run.workflow}</Link></td>}
              <td className="px-3 py-2"><RunStatusBadge status={run.status} /></td>
              <td className="px-3 py-2">v{run.version}</td>
              <td className="hidden px-3 py-2 sm:table-cell">{run.trigger_kind}</td>
              <td className="px-3 py-2 whitespace-nowrap">{relativeTime(run.created_at)}</td>
              <td className="hidden px-3 py-2 sm:table-cell">{runDuration(run)}</td>
              <td className="hidden px-3 py-2 md:table-cell">{nanosToUsd(run.cost_nanos)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {runs.hasNextPage && (
        <div className="p-3 text-center">
          <Button size="sm" onClick={() => void runs.fetchNextPage()} disabled={runs.isFetchingNextPage}>
            {runs.isFetchingNextPage ? "Loading…" : "Load more"}
          </Button>
        </div>
      )}
    </div>
  );
}
