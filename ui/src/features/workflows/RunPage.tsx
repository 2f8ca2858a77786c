// One run: status, inputs and outputs, the graph coloured by step status, the steps on a
// timeline with the chosen step's detail, approvals to decide, and cancel, pause and resume.
// Live: workflow_run.* events refetch it; while it runs it also polls (steps finishing have no
// event of their own).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ArrowLeft, Ban, Pause, Play } from "lucide-react";
import { useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import type { RunStatus, Step, WorkflowRun } from "../../api/schema.gen";
import { workflowRuns, workflows } from "../../api/workflows";
import { useCan } from "../../auth/useAuth";
import { Button } from "../../components/Button";
import { Card, CardHeader } from "../../components/Card";
import { Field, Select } from "../../components/Field";
import { errorText, QueryState, Spinner } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";
import { dateTime, shortId } from "../../lib/format";
import { ApprovalCard } from "./ApprovalCard";
import { nodeStatuses } from "./graph";
import { nanosToUsd, runDuration } from "./RunList";
import { RunTimeline, StepDetail } from "./RunTimeline";
import { ACTIVE_RUN_STATUSES, RunStatusBadge } from "./StatusBadges";
import { useCheckedDefinition } from "./useWorkflowGraph";
import WorkflowGraph from "./WorkflowGraph";

const POLL_MS: Partial<Record<RunStatus, number>> = { queued: 2000, running: 2000, waiting: 10_000 };

/** The clock, ticking every second while `isTicking` (open timeline bars grow). */
function useNow(isTicking: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!isTicking) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [isTicking]);
  return now;
}

/** The step to show first: one that needs a person, else one that failed, else the newest. */
export function firstStep(steps: readonly Step[]): Step | undefined {
  return (
    steps.find((s) => s.node_type === "approval" && s.status === "waiting") ??
    steps.find((s) => s.status === "failed") ??
    steps.at(-1)
  );
}

function RunActions({ run }: { run: WorkflowRun }) {
  const toast = useToast();
  const client = useQueryClient();
  const isFailed = run.status === "failed";
  const versions = useQuery({
    queryKey: keys.workflowVersions(run.workflow),
    queryFn: () => workflows.versions(run.workflow),
    enabled: isFailed,
  });
  const [resumeOn, setResumeOn] = useState<number | null>(null);
  const act = useMutation({
    mutationFn: (action: "cancel" | "pause" | "resume") =>
      action === "resume" ? workflowRuns.resume(run.run_id, resumeOn ?? undefined) : workflowRuns[action](run.run_id),
    onSuccess: (_, action) => {
      toast({ cancel: "Run cancelled", pause: "Run paused", resume: "Run resumed" }[action], "success");
      void client.invalidateQueries({ queryKey: keys.workflowRuns });
    },
    onError: (error) => toast(errorText(error), "error"),
  });
  const isActive = ACTIVE_RUN_STATUSES.includes(run.status);
  return (
    <div className="flex flex-wrap items-end gap-2">
      {isFailed && versions.data && versions.data.length > 1 && (
        <div className="w-40">
          <Field label="Resume on">
            {(id) => (
              <Select id={id} value={resumeOn ?? ""} onChange={(e) => setResumeOn(e.target.value ? Number(e.target.value) : null)}>
                <option value="">v{run.version} (as it ran)</option>
                {versions.data.filter((v) => v.version !== run.version).map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}
              </Select>
            )}
          </Field>
        </div>
      )}
      {(run.status === "paused" || isFailed) && (
        <Button variant="primary" onClick={() => act.mutate("resume")} disabled={act.isPending}><Play className="size-4" aria-hidden /> Resume</Button>
      )}
      {isActive && run.status !== "paused" && (
        <Button onClick={() => act.mutate("pause")} disabled={act.isPending}><Pause className="size-4" aria-hidden /> Pause</Button>
      )}
      {isActive && (
        <Button variant="danger" onClick={() => act.mutate("cancel")} disabled={act.isPending}><Ban className="size-4" aria-hidden /> Cancel</Button>
      )}
    </div>
  );
}

function RunGraph({ run, selected, onSelect }: { run: WorkflowRun; selected: string | null; onSelect: (nodeId: string) => void }) {
  const version = useQuery({
    queryKey: [...keys.workflowVersions(run.workflow), run.version],
    queryFn: () => workflows.version(run.workflow, run.version),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const checked = useCheckedDefinition(version.data?.source);
  const statuses = useMemo(() => nodeStatuses(run.steps), [run.steps]);
  if (version.error) return <p className="p-4 text-sm text-slate-500">The definition of v{run.version} is not available ({errorText(version.error)}).</p>;
  if (!checked.data?.graph) return <div className="p-4">{checked.data ? <p className="text-sm text-slate-500">v{run.version} no longer checks, so it is not drawn.</p> : <Spinner label="Drawing" />}</div>;
  return <WorkflowGraph graph={checked.data.graph} statuses={statuses} selected={selected} onSelect={onSelect} label={`Graph of the run, by step status`} className="h-[340px]" />;
}

function Values({ title, value, isFinal = true }: { title: string; value: Record<string, unknown> | null; isFinal?: boolean }) {
  return (
    <Card>
      <CardHeader title={title} />
      {value && Object.keys(value).length ? (
        <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 p-4 text-sm" data-testid={`run-${title.toLowerCase()}`}>
          {Object.entries(value).map(([key, item]) => (
            <div key={key} className="contents">
              <dt className="font-mono text-xs text-slate-500">{key}</dt>
              <dd className="min-w-0 break-words whitespace-pre-wrap">{typeof item === "string" ? item : JSON.stringify(item)}</dd>
            </div>
          ))}
        </dl>
      ) : (
        <p className="p-4 text-sm text-slate-500">None{isFinal ? "" : " yet"}.</p>
      )}
    </Card>
  );
}

function RunView({ run, fetchedAt }: { run: WorkflowRun; fetchedAt: number }) {
  const can = useCan();
  const steps = run.steps;
  const [chosen, setChosen] = useState<string | null>(null);
  const isActive = ACTIVE_RUN_STATUSES.includes(run.status);
  // Never behind the data shown (open bars end at "now").
  const now = Math.max(useNow(isActive), fetchedAt);
  const step = steps.find((s) => s.step_key === chosen) ?? firstStep(steps);
  const approvals = steps.filter((s) => s.node_type === "approval" && s.status === "waiting");
  const selectNode = (nodeId: string) => {
    const ofNode = steps.filter((s) => s.node_id === nodeId);
    const pick = ofNode.find((s) => s.status === "failed" || s.status === "waiting") ?? ofNode.at(-1);
    if (pick) setChosen(pick.step_key);
  };
  return (
    <div className="space-y-4">
      <Link to={`/workflows/${run.workflow}?tab=runs`} className="inline-flex items-center gap-1 text-sm text-slate-500 hover:underline"><ArrowLeft className="size-4" aria-hidden /> {run.workflow}</Link>
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="text-xl font-semibold">Run <span className="font-mono">{shortId(run.run_id)}</span></h1>
        <RunStatusBadge status={run.status} />
        <span className="text-sm text-slate-500">of <Link className="hover:underline" to={`/workflows/${run.workflow}`}>{run.workflow}</Link> v{run.version}</span>
        {can("workflows:run") && <span className="ml-auto"><RunActions run={run} /></span>}
      </div>
      {run.status === "failed" && (
        <div role="alert" className="rounded-md border border-rose-200 bg-rose-50 p-3 text-sm text-rose-900 dark:border-rose-900 dark:bg-rose-950/50 dark:text-rose-200">
          Failed{run.failed_step && <> at <button type="button" className="font-mono underline" onClick={() => setChosen(run.failed_step)}>{run.failed_step}</button></>}: {run.error}
          <span className="block text-xs opacity-80">Resume starts again from the failed step; finished steps keep their outputs.</span>
        </div>
      )}
      {approvals.map((approval) => <ApprovalCard key={approval.step_key} runId={run.run_id} step={approval} canDecide={can("workflows:run")} />)}
      <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-sm sm:grid-cols-4" aria-label="Summary">
        <div><dt className="text-xs text-slate-500">Started by</dt><dd className="break-all">{run.trigger_kind} · {run.started_by}</dd></div>
        <div><dt className="text-xs text-slate-500">Queued</dt><dd>{dateTime(run.created_at)}</dd></div>
        <div><dt className="text-xs text-slate-500">Took</dt><dd>{runDuration(run, now)}{isActive && run.started_at ? " so far" : ""}</dd></div>
        <div><dt className="text-xs text-slate-500">Cost</dt><dd>{nanosToUsd(run.cost_nanos)} · {run.steps_done} step{run.steps_done === 1 ? "" : "s"} done</dd></div>
      </dl>
      <div className="grid gap-4 lg:grid-cols-2">
        <Values title="Inputs" value={run.inputs} />
        <Values title="Outputs" value={run.outputs} isFinal={!isActive} />
      </div>
      <Card>
        <CardHeader title="Graph" />
        <div className="p-2"><RunGraph run={run} selected={step?.node_id ?? null} onSelect={selectNode} /></div>
      </Card>
      <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_24rem]">
        <Card>
          <CardHeader title="Timeline" />
          <div className="p-3">
            {steps.length === 0 ? (
              <p className="text-sm text-slate-500">{run.status === "queued" ? "Waiting for a worker to pick it up…" : "No steps yet."}</p>
            ) : (
              <RunTimeline steps={steps} startedAt={run.started_at} finishedAt={run.finished_at} now={now} selected={step?.step_key ?? null} onSelect={setChosen} />
            )}
          </div>
        </Card>
        <Card>
          <CardHeader title="Step" />
          <div className="p-4">{step ? <StepDetail step={step} /> : <p className="text-sm text-slate-500">Pick a step on the timeline or the graph.</p>}</div>
        </Card>
      </div>
    </div>
  );
}

export default function RunPage() {
  const { runId = "" } = useParams();
  const run = useQuery({
    queryKey: keys.workflowRun(runId),
    queryFn: () => workflowRuns.get(runId),
    refetchInterval: (query) => (query.state.data ? (POLL_MS[query.state.data.status] ?? false) : false),
  });
  return <QueryState query={run}>{(data) => <RunView run={data} fetchedAt={run.dataUpdatedAt} />}</QueryState>;
}
