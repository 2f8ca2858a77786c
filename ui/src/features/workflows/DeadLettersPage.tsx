// Failed runs, each with the step it failed on and why; resume one from that step.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ArrowLeft, Play } from "lucide-react";
import { Link } from "react-router";
import type { WorkflowRun } from "../../api/schema.gen";
import { workflowRuns } from "../../api/workflows";
import { useCan } from "../../auth/useAuth";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Card, PageHeader } from "../../components/Card";
import { Empty, errorText, QueryState } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";
import { relativeTime, shortId } from "../../lib/format";

function DeadLetter({ run }: { run: WorkflowRun }) {
  const can = useCan();
  const toast = useToast();
  const client = useQueryClient();
  const resume = useMutation({
    mutationFn: () => workflowRuns.resume(run.run_id),
    onSuccess: () => {
      toast(`Resumed ${run.workflow} from ${run.failed_step ?? "its failed step"}`, "success");
      void client.invalidateQueries({ queryKey: keys.workflowRuns });
    },
    onError: (error) => toast(errorText(error), "error"),
  });
  return (
    <li className="space-y-2 p-4" data-testid="dead-letter">
      <div className="flex flex-wrap items-center gap-2">
        <Link to={`/workflows/${run.workflow}`} className="font-medium hover:underline">{run.workflow}</Link>
        <Badge>v{run.version}</Badge>
        <Link to={`/workflow-runs/${run.run_id}`} className="font-mono text-xs text-slate-500 hover:underline">run {shortId(run.run_id)}</Link>
        <span className="text-xs text-slate-500">failed {relativeTime(run.finished_at)}</span>
        {can("workflows:run") && (
          <Button size="sm" variant="primary" className="ml-auto" onClick={() => resume.mutate()} disabled={resume.isPending}>
            <Play className="size-3.5" aria-hidden /> {resume.isPending ? "Resuming…" : "Resume"}
          </Button>
        )}
      </div>
      <p className="text-sm">
        Failed at <span className="font-mono font-medium">{run.failed_step ?? "?"}</span>:{" "}
        <span className="text-rose-800 dark:text-rose-300">{run.error}</span>
      </p>
      {run.steps.map((step) => (
        <details key={step.step_key} className="rounded-md border border-slate-200 p-2 text-sm dark:border-slate-800">
          <summary className="cursor-pointer">
            <span className="font-mono">{step.step_key}</span> <span className="text-xs text-slate-500">({step.node_type}, {step.attempts} attempt{step.attempts === 1 ? "" : "s"}{step.error_class ? `, ${step.error_class}` : ""})</span>
          </summary>
          <p className="mt-1 text-xs">{step.error}</p>
          {step.logs.length > 0 && (
            <ol className="mt-1 space-y-0.5 font-mono text-xs text-slate-500" aria-label="Logs">
              {step.logs.map((line, index) => <li key={index}>{typeof line === "string" ? line : JSON.stringify(line)}</li>)}
            </ol>
          )}
        </details>
      ))}
    </li>
  );
}

export default function DeadLettersPage() {
  const letters = useQuery({ queryKey: keys.deadLetters, queryFn: workflowRuns.deadLetters });
  return (
    <>
      <Link to="/workflows" className="mb-2 inline-flex items-center gap-1 text-sm text-slate-500 hover:underline"><ArrowLeft className="size-4" aria-hidden /> Workflows</Link>
      <PageHeader title="Dead letters" subtitle="Runs that failed. Fix the cause (or the definition), then resume from the failed step." />
      <Card>
        <QueryState query={letters}>
          {(runs) =>
            runs.length === 0 ? (
              <Empty title="No failed runs" />
            ) : (
              <ul className="divide-y divide-slate-100 dark:divide-slate-800" aria-label="Failed runs">
                {runs.map((run) => <DeadLetter key={run.run_id} run={run} />)}
              </ul>
            )
          }
        </QueryState>
      </Card>
    </>
  );
}
