// A run's steps on one time scale: a bar per step from its start to its end (or now), and the
// detail of the chosen step: inputs, output, logs, attempts, error, cost, cache hit.
import type { Step } from "../../api/schema.gen";
import { focusRing } from "../../components/Button";
import { dateTime } from "../../lib/format";
import { nanosToUsd } from "./RunList";
import { STEP_BAR_TONES, StepStatusBadge } from "./StatusBadges";
import { duration, timeline } from "./timeline";

export function RunTimeline({
  steps,
  startedAt,
  finishedAt,
  now,
  selected,
  onSelect,
}: {
  steps: Step[];
  startedAt: string | null;
  finishedAt: string | null;
  now: number;
  selected: string | null;
  onSelect: (stepKey: string) => void;
}) {
  const { rows, ticks } = timeline(steps, { now, startedAt, finishedAt });
  return (
    <div className="space-y-1" data-testid="timeline">
      <div className="relative ml-[9rem] h-4 text-[10px] text-slate-400 sm:ml-[12rem]" aria-hidden>
        {ticks.map((tick) => (
          <span
            key={tick.pct}
            className={`absolute -translate-x-1/2 whitespace-nowrap first:translate-x-0 last:-translate-x-full ${tick.pct === 25 || tick.pct === 75 ? "hidden sm:inline" : ""}`}
            style={{ left: `${tick.pct}%` }}
          >
            {tick.label}
          </span>
        ))}
      </div>
      <ol aria-label="Steps" className="space-y-1">
        {rows.map(({ step, startPct, widthPct, isOpen, durationMs }) => (
          <li key={step.step_key}>
            <button
              type="button"
              data-testid="timeline-step"
              data-step={step.step_key}
              data-status={step.status}
              aria-pressed={selected === step.step_key}
              onClick={() => onSelect(step.step_key)}
              className={`flex w-full items-center gap-2 rounded px-1 py-0.5 text-left text-xs hover:bg-slate-100 dark:hover:bg-slate-800 ${focusRing} ${selected === step.step_key ? "bg-indigo-50 dark:bg-indigo-950" : ""}`}
            >
              <span className="flex w-[8.5rem] shrink-0 flex-col sm:w-[11.5rem]">
                <span className="truncate font-medium">{step.step_key}</span>
                <span className="truncate text-[10px] text-slate-500">{step.node_type} · {step.status}{step.is_cache_hit ? " · cached" : ""}</span>
              </span>
              <span className="relative h-4 min-w-0 flex-1 rounded bg-slate-100 dark:bg-slate-800">
                <span
                  className={`absolute inset-y-0 rounded ${STEP_BAR_TONES[step.status]} ${isOpen ? "opacity-80" : ""}`}
                  style={{ left: `${startPct}%`, width: `${widthPct}%` }}
                  title={`${step.step_key}: ${duration(durationMs)}${isOpen ? " so far" : ""}`}
                />
              </span>
              <span className="w-16 shrink-0 text-right text-[10px] text-slate-500 tabular-nums">{duration(durationMs)}</span>
            </button>
          </li>
        ))}
      </ol>
    </div>
  );
}

function Json({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <p className="text-xs text-slate-500">—</p>;
  return (
    <pre className="max-h-72 overflow-auto rounded-md bg-slate-50 p-2 font-mono text-xs whitespace-pre-wrap break-words dark:bg-slate-950">
      {typeof value === "string" ? value : JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function StepDetail({ step }: { step: Step }) {
  return (
    <div className="space-y-3 text-sm" data-testid="step-detail" aria-label={`Step ${step.step_key}`}>
      <div className="flex flex-wrap items-center gap-2">
        <h3 className="font-semibold break-all">{step.step_key}</h3>
        <StepStatusBadge status={step.status} />
        <span className="text-xs text-slate-500">{step.node_type}</span>
      </div>
      <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-xs">
        <dt className="text-slate-500">Attempts</dt><dd>{step.attempts}</dd>
        <dt className="text-slate-500">Started</dt><dd>{dateTime(step.started_at)}</dd>
        <dt className="text-slate-500">Finished</dt><dd>{dateTime(step.finished_at)}</dd>
        <dt className="text-slate-500">Took</dt><dd>{step.duration_ms === null ? "—" : duration(step.duration_ms)}</dd>
        <dt className="text-slate-500">Cost</dt><dd>{nanosToUsd(step.cost_nanos)}</dd>
        <dt className="text-slate-500">Cache hit</dt><dd>{step.is_cache_hit ? "yes" : "no"}</dd>
        {step.wake_at && <><dt className="text-slate-500">Looked at again</dt><dd>{dateTime(step.wake_at)}</dd></>}
      </dl>
      {step.error && (
        <div role="alert" className="rounded-md border border-rose-200 bg-rose-50 p-2 text-xs text-rose-900 dark:border-rose-900 dark:bg-rose-950/50 dark:text-rose-200">
          {step.error_class && <span className="mr-1 font-mono">[{step.error_class}]</span>}
          {step.error}
        </div>
      )}
      <section><h4 className="mb-1 text-xs font-semibold text-slate-500">Inputs</h4><Json value={step.inputs} /></section>
      <section><h4 className="mb-1 text-xs font-semibold text-slate-500">Output</h4><Json value={step.output} /></section>
      {Object.keys(step.details).length > 0 && <section><h4 className="mb-1 text-xs font-semibold text-slate-500">Details</h4><Json value={step.details} /></section>}
      <section>
        <h4 className="mb-1 text-xs font-semibold text-slate-500">Logs</h4>
        {step.logs.length === 0 ? (
          <p className="text-xs text-slate-500">None.</p>
        ) : (
          <ol className="space-y-0.5 rounded-md bg-slate-50 p-2 font-mono text-xs dark:bg-slate-950" aria-label="Logs">
            {step.logs.map((line, index) => <li key={index} className="break-words">{typeof line === "string" ? line : JSON.stringify(line)}</li>)}
          </ol>
        )}
      </section>
    </div>
  );
}
