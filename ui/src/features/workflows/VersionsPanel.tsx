// A workflow's versions: publish, tag, roll back; the difference between any two.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { Workflow, WorkflowVersion } from "../../api/schema.gen";
import { workflows } from "../../api/workflows";
import { useCan } from "../../auth/useAuth";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { UnifiedDiff } from "../../components/DiffView";
import { Field, Input, Select } from "../../components/Field";
import { errorText, QueryState } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";
import { dateTime } from "../../lib/format";

const show = (value: unknown) => (value === undefined || value === null ? "—" : JSON.stringify(value));

function Diff({ name, from, to }: { name: string; from: number; to: number }) {
  const query = useQuery({ queryKey: [...keys.workflowVersions(name), "diff", from, to], queryFn: () => workflows.diff(name, from, to), staleTime: Number.POSITIVE_INFINITY });
  return (
    <QueryState query={query}>
      {(diff) =>
        diff.changes.length === 0 ? (
          <p className="text-sm text-slate-500">No changes between v{from} and v{to}.</p>
        ) : (
          <div className="space-y-3" data-testid="workflow-diff">
            <ul className="space-y-1 text-sm" aria-label="Changes">
              {diff.changes.map((change) => (
                <li key={`${change.change}:${change.path}`} className="flex flex-wrap items-baseline gap-2">
                  <Badge tone={change.change === "added" ? "green" : change.change === "removed" ? "red" : "amber"}>{change.change}</Badge>
                  <code className="text-xs">{change.path}</code>
                  {change.change !== "added" && <span className="min-w-0 truncate bg-rose-100 px-1 text-xs line-through dark:bg-rose-950">{show(change.before)}</span>}
                  {change.change !== "removed" && <span className="min-w-0 truncate bg-emerald-100 px-1 text-xs dark:bg-emerald-950">{show(change.after)}</span>}
                </li>
              ))}
            </ul>
            {diff.unified && <UnifiedDiff text={diff.unified} />}
          </div>
        )
      }
    </QueryState>
  );
}

function TagForm({ onTag, isPending }: { onTag: (tag: string) => void; isPending: boolean }) {
  const [tag, setTag] = useState("");
  return (
    <form className="flex items-end gap-1" onSubmit={(event) => { event.preventDefault(); if (tag.trim()) onTag(tag.trim()); }}>
      <div className="w-28"><Field label="Tag">{(id) => <Input id={id} value={tag} onChange={(e) => setTag(e.target.value)} placeholder="stable" />}</Field></div>
      <Button type="submit" size="sm" disabled={isPending || !tag.trim()}>Add tag</Button>
    </form>
  );
}

function VersionRow({ workflow, version }: { workflow: Workflow; version: WorkflowVersion }) {
  const can = useCan();
  const toast = useToast();
  const client = useQueryClient();
  const [tagging, setTagging] = useState(false);
  const done = (text: string) => {
    toast(text, "success");
    void client.invalidateQueries({ queryKey: keys.workflows });
  };
  const onError = (error: unknown) => toast(errorText(error), "error");
  const publish = useMutation({ mutationFn: () => workflows.publish(workflow.name, version.version), onSuccess: () => done(`Published v${version.version}`), onError });
  const tag = useMutation({ mutationFn: (name: string) => workflows.tag(workflow.name, version.version, name), onSuccess: (_, name) => { setTagging(false); done(`Tagged v${version.version} ${name}`); }, onError });
  const rollback = useMutation({ mutationFn: () => workflows.rollback(workflow.name, version.version), onSuccess: (saved) => done(`v${version.version} saved again as v${saved.version} and published`), onError });
  return (
    <li className="space-y-2 py-2" data-testid="version-row">
      <div className="flex flex-wrap items-center gap-2">
        <span className="font-medium">v{version.version}</span>
        {version.is_published && <Badge tone="green">published</Badge>}
        {version.version === workflow.latest_version && <Badge tone="indigo">newest</Badge>}
        {version.tags.map((t) => <Badge key={t}>{t}</Badge>)}
        <span className="text-slate-500">{dateTime(version.created_at)}</span>
        {version.note && <span className="text-slate-500">— {version.note}</span>}
        {can("workflows:write") && (
          <span className="ml-auto flex flex-wrap gap-1">
            {!version.is_published && <Button size="sm" onClick={() => publish.mutate()} disabled={publish.isPending}>Publish v{version.version}</Button>}
            <Button size="sm" variant="ghost" aria-expanded={tagging} onClick={() => setTagging((open) => !open)}>Tag…</Button>
            {version.version !== workflow.latest_version && <Button size="sm" onClick={() => rollback.mutate()} disabled={rollback.isPending}>Roll back to v{version.version}</Button>}
          </span>
        )}
      </div>
      {tagging && <TagForm onTag={(name) => tag.mutate(name)} isPending={tag.isPending} />}
      <details className="text-sm">
        <summary className="cursor-pointer text-xs text-slate-500">Source</summary>
        <pre className="mt-1 max-h-80 overflow-auto rounded-md bg-slate-50 p-2 font-mono text-xs dark:bg-slate-950">{version.source}</pre>
      </details>
    </li>
  );
}

export function VersionsPanel({ workflow, versions }: { workflow: Workflow; versions: WorkflowVersion[] }) {
  const [from, setFrom] = useState(Math.max(1, workflow.latest_version - 1));
  const [to, setTo] = useState(workflow.latest_version);
  const picker = (label: string, value: number, onChange: (v: number) => void) => (
    <div className="w-28">
      <Field label={label}>
        {(id) => (
          <Select id={id} value={value} onChange={(e) => onChange(Number(e.target.value))}>
            {versions.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}
          </Select>
        )}
      </Field>
    </div>
  );
  return (
    <div className="space-y-4">
      <ul className="divide-y divide-slate-100 text-sm dark:divide-slate-800" aria-label="Versions">
        {versions.map((version) => <VersionRow key={version.version} workflow={workflow} version={version} />)}
      </ul>
      {versions.length > 1 && (
        <section className="space-y-2" aria-label="Compare versions">
          <h3 className="text-sm font-semibold">Compare</h3>
          <div className="flex flex-wrap items-end gap-2">
            {picker("From", from, setFrom)}
            {picker("To", to, setTo)}
          </div>
          {from !== to ? <Diff name={workflow.name} from={from} to={to} /> : <p className="text-sm text-slate-500">Pick two different versions.</p>}
        </section>
      )}
    </div>
  );
}
