// The definition as YAML in a plain textarea, checked by the API as you type (debounced); every
// fault is listed with its line and column and the node it points at is outlined on the graph.
// Save makes the next version.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { AlertTriangle, CheckCircle2, Save } from "lucide-react";
import { useRef, useState } from "react";
import type { WorkflowSaved } from "../../api/schema.gen";
import { type DefinitionFault, faultsOf, type WorkflowGraph as Graph, workflows } from "../../api/workflows";
import { Button } from "../../components/Button";
import { controlClass, Field, Input } from "../../components/Field";
import { errorText, Spinner } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";
import { nodeOfLocation } from "./graph";
import { useCheckedDefinition, useDebounced } from "./useWorkflowGraph";
import WorkflowGraph from "./WorkflowGraph";

const CHECK_AFTER_MS = 400;

/** The offset in `text` of a 1-based line and column (clamped to the text). */
export function offsetOf(text: string, line: number, column: number | null): number {
  const lines = text.split("\n");
  const index = Math.min(Math.max(line, 1), lines.length) - 1;
  const before = lines.slice(0, index).reduce((sum, current) => sum + current.length + 1, 0);
  return before + Math.min(Math.max((column ?? 1) - 1, 0), lines[index]!.length);
}

function FaultList({ faults, onPick }: { faults: readonly DefinitionFault[]; onPick: (fault: DefinitionFault) => void }) {
  return (
    <ul aria-label="Errors" data-testid="definition-errors" className="space-y-1 text-sm">
      {faults.map((fault, index) => {
        const node = nodeOfLocation(fault.location);
        return (
          <li key={index}>
            <button
              type="button"
              onClick={() => onPick(fault)}
              className="w-full rounded-md border border-rose-200 bg-rose-50 px-2 py-1 text-left text-rose-900 hover:bg-rose-100 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:border-rose-900 dark:bg-rose-950/50 dark:text-rose-200"
            >
              {fault.line !== null && (
                <span className="mr-2 font-mono text-xs">
                  line {fault.line}
                  {fault.column !== null && `, column ${fault.column}`}
                </span>
              )}
              {fault.location && <code className="mr-2 text-xs">{fault.location}</code>}
              {fault.message}
              {node && <span className="ml-2 text-xs text-rose-700 dark:text-rose-300">(node {node})</span>}
            </button>
          </li>
        );
      })}
    </ul>
  );
}

/** The newest saved version, as the editor last knew it. */
export interface SavedSource {
  version: number;
  source: string;
}

export function DefinitionEditor({
  initial,
  newest,
  canSave,
  onSaved,
}: {
  initial: string;
  /** The workflow's newest version, kept current by the page (live). */
  newest?: SavedSource;
  canSave: boolean;
  onSaved?: (saved: WorkflowSaved) => void;
}) {
  const toast = useToast();
  const client = useQueryClient();
  const textarea = useRef<HTMLTextAreaElement>(null);
  const [text, setText] = useState(initial);
  // A version saved meanwhile never replaces the draft: it is offered instead. One with the
  // draft's very text (our own save) is simply taken as the new base.
  const [base, setBase] = useState(newest?.version ?? null);
  if (newest && base !== null && newest.version > base && newest.source === text) setBase(newest.version);
  const isBehind = newest !== undefined && base !== null && newest.version > base;
  const [note, setNote] = useState("");
  const settled = useDebounced(text, CHECK_AFTER_MS);
  const checked = useCheckedDefinition(settled);
  // Keep drawing the last good graph while the text is broken, so faults have somewhere to show.
  const [graph, setGraph] = useState<Graph | null>(null);
  const latestGraph = checked.data?.graph;
  if (latestGraph && latestGraph !== graph) setGraph(latestGraph);
  const save = useMutation({
    mutationFn: (source: string) => workflows.save(source, note),
    onSuccess: (saved) => {
      toast(saved.is_new_version ? `Saved ${saved.name} v${saved.version}` : `No change: same as v${saved.version}`, "success");
      setNote("");
      void client.invalidateQueries({ queryKey: keys.workflows });
      onSaved?.(saved);
    },
  });
  // A refused save's faults stand until the text changes; then the live check's do.
  const saveFaults = save.isError && save.variables === text ? faultsOf(save.error) : [];
  const faults = saveFaults.length ? saveFaults : text.trim() ? (checked.data?.errors ?? []) : [];
  const pick = (fault: DefinitionFault) => {
    const area = textarea.current;
    if (!area || fault.line === null) return;
    const at = offsetOf(text, fault.line, fault.column);
    area.focus();
    area.setSelectionRange(at, at);
  };
  const status = !text.trim() ? null : checked.isFetching || settled !== text ? (
    <Spinner label="Checking" />
  ) : faults.length ? (
    <span className="inline-flex items-center gap-1 text-sm text-rose-700 dark:text-rose-300" data-testid="definition-status">
      <AlertTriangle className="size-4" aria-hidden /> {faults.length} error{faults.length > 1 ? "s" : ""}
    </span>
  ) : checked.data?.is_valid ? (
    <span className="inline-flex items-center gap-1 text-sm text-emerald-700 dark:text-emerald-300" data-testid="definition-status">
      <CheckCircle2 className="size-4" aria-hidden /> Valid · {checked.data.graph?.nodes.length ?? 0} nodes
    </span>
  ) : null;
  return (
    <div className="grid gap-4 xl:grid-cols-2">
      <div className="min-w-0 space-y-2">
        {isBehind && newest && (
          <div role="status" data-testid="newer-version" className="flex flex-wrap items-center gap-2 rounded-md border border-amber-300 bg-amber-50 p-2 text-sm dark:border-amber-800 dark:bg-amber-950/40">
            <span className="flex-1">v{newest.version} was saved since you started editing v{base}. Your draft is kept; saving it makes v{newest.version + 1}.</span>
            <Button size="sm" onClick={() => { setText(newest.source); setBase(newest.version); }}>Load v{newest.version}</Button>
          </div>
        )}
        <Field label="Definition (YAML)" hint="Checked as you type. Select an error to jump to its line.">
          {(id) => (
            <textarea
              id={id}
              ref={textarea}
              value={text}
              onChange={(event) => setText(event.target.value)}
              readOnly={!canSave}
              spellCheck={false}
              autoCapitalize="off"
              autoCorrect="off"
              rows={24}
              className={`${controlClass} font-mono text-xs leading-5`}
              aria-invalid={faults.length > 0}
            />
          )}
        </Field>
        {canSave && (
          <form
            className="flex flex-wrap items-end gap-2"
            onSubmit={(event) => {
              event.preventDefault();
              save.mutate(text);
            }}
          >
            <div className="min-w-48 flex-1">
              <Field label="Note (optional)">{(id) => <Input id={id} value={note} onChange={(e) => setNote(e.target.value)} placeholder="What changed" />}</Field>
            </div>
            <Button type="submit" variant="primary" disabled={save.isPending || !text.trim()}>
              <Save className="size-4" aria-hidden /> {save.isPending ? "Saving…" : "Save version"}
            </Button>
          </form>
        )}
        {save.isError && !saveFaults.length && (
          <p role="alert" className="text-sm text-rose-700 dark:text-rose-300">{errorText(save.error)}</p>
        )}
      </div>
      <div className="min-w-0 space-y-2">
        <div className="flex min-h-7 items-center justify-between gap-2">
          <h3 className="text-sm font-semibold">Graph</h3>
          <div aria-live="polite">{status}</div>
        </div>
        {checked.error && <p role="alert" className="text-sm text-rose-700">{errorText(checked.error)}</p>}
        {graph ? (
          <WorkflowGraph graph={graph} faults={faults} label="Workflow graph" className="h-[360px] xl:h-[440px]" />
        ) : (
          <p className="rounded-md border border-dashed border-slate-300 p-6 text-center text-sm text-slate-500 dark:border-slate-700">
            The graph shows once the definition is valid.
          </p>
        )}
        {faults.length > 0 && <FaultList faults={faults} onPick={pick} />}
      </div>
    </div>
  );
}
