// What starts a workflow's runs: cron, webhook (its secret shown once), event, or by hand.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Trash2, Zap } from "lucide-react";
import { useState } from "react";
import { Link } from "react-router";
import type { OverlapPolicy, Trigger, TriggerCreate, TriggerKind } from "../../api/schema.gen";
import { workflowTriggers } from "../../api/workflows";
import { useCan } from "../../auth/useAuth";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Field, Input, Select, Textarea } from "../../components/Field";
import { Empty, errorText, QueryState } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";
import { dateTime } from "../../lib/format";
import { SecretOnce } from "../admin/SecretOnce";

const KINDS: { kind: TriggerKind; label: string }[] = [
  { kind: "manual", label: "Manual" },
  { kind: "cron", label: "Cron schedule" },
  { kind: "webhook", label: "Webhook" },
  { kind: "event", label: "Event" },
];

/** A trigger's body from the form; an error text when its inputs are not a JSON object. */
export function triggerBody(form: Record<string, string>): TriggerCreate | string {
  let inputs: Record<string, unknown> = {};
  if (form.inputs?.trim()) {
    try {
      inputs = JSON.parse(form.inputs) as Record<string, unknown>;
    } catch {
      return "Inputs must be a JSON object.";
    }
    if (typeof inputs !== "object" || inputs === null || Array.isArray(inputs)) return "Inputs must be a JSON object.";
  }
  const kind = (form.kind ?? "manual") as TriggerKind;
  const body: TriggerCreate = { name: form.name?.trim() ?? "", kind, inputs, overlap: (form.overlap ?? "allow") as OverlapPolicy };
  if (kind === "cron") Object.assign(body, { cron: form.cron?.trim(), timezone: form.timezone?.trim() || "UTC" });
  if (kind === "event") Object.assign(body, { event_type: form.event_type?.trim(), filter: form.filter?.trim() || null });
  return body;
}

function TriggerForm({ workflow, onCreated }: { workflow: string; onCreated: (trigger: Trigger) => void }) {
  const client = useQueryClient();
  const [form, setForm] = useState<Record<string, string>>({ kind: "manual", overlap: "allow", timezone: "UTC" });
  const [problem, setProblem] = useState<string | null>(null);
  const set = (key: string) => (event: { target: { value: string } }) => setForm((all) => ({ ...all, [key]: event.target.value }));
  const create = useMutation({
    mutationFn: (body: TriggerCreate) => workflowTriggers.create(workflow, body),
    onSuccess: (trigger) => {
      setForm({ kind: "manual", overlap: "allow", timezone: "UTC" });
      void client.invalidateQueries({ queryKey: keys.workflowTriggers(workflow) });
      onCreated(trigger);
    },
    onError: (error) => setProblem(errorText(error)),
  });
  return (
    <form
      aria-label="New trigger"
      className="grid gap-3 sm:grid-cols-2"
      onSubmit={(event) => {
        event.preventDefault();
        const body = triggerBody(form);
        setProblem(typeof body === "string" ? body : null);
        if (typeof body !== "string") create.mutate(body);
      }}
    >
      <Field label="Trigger name">{(id) => <Input id={id} value={form.name ?? ""} onChange={set("name")} required maxLength={100} />}</Field>
      <Field label="Kind">
        {(id) => <Select id={id} value={form.kind} onChange={set("kind")}>{KINDS.map((k) => <option key={k.kind} value={k.kind}>{k.label}</option>)}</Select>}
      </Field>
      {form.kind === "cron" && (
        <>
          <Field label="Cron expression" hint="e.g. 0 9 * * 1-5 (9:00 on weekdays)">{(id) => <Input id={id} value={form.cron ?? ""} onChange={set("cron")} required className="font-mono" />}</Field>
          <Field label="Time zone">{(id) => <Input id={id} value={form.timezone ?? ""} onChange={set("timezone")} />}</Field>
        </>
      )}
      {form.kind === "event" && (
        <>
          <Field label="Event type" hint="e.g. task.status_changed">{(id) => <Input id={id} value={form.event_type ?? ""} onChange={set("event_type")} required />}</Field>
          <Field label="Filter (optional)" hint="An expression over trigger.event">{(id) => <Input id={id} value={form.filter ?? ""} onChange={set("filter")} className="font-mono" />}</Field>
        </>
      )}
      <Field label="Inputs (JSON, optional)" hint="May use {{ trigger.body }} or {{ trigger.event }} templates">
        {(id) => <Textarea id={id} rows={2} value={form.inputs ?? ""} onChange={set("inputs")} className="font-mono text-xs" placeholder='{"brief": "…"}' />}
      </Field>
      <Field label="When the previous run is still going">
        {(id) => (
          <Select id={id} value={form.overlap} onChange={set("overlap")}>
            <option value="allow">Start another anyway</option>
            <option value="queue">Queue it</option>
            <option value="skip">Skip it</option>
          </Select>
        )}
      </Field>
      {problem && <p role="alert" className="text-sm text-rose-700 sm:col-span-2 dark:text-rose-300">{problem}</p>}
      <div className="sm:col-span-2"><Button type="submit" variant="primary" disabled={create.isPending}>Add trigger</Button></div>
    </form>
  );
}

function describe(trigger: Trigger): string {
  switch (trigger.kind) {
    case "cron":
      return `${trigger.cron} (${trigger.timezone ?? "UTC"}) · next ${dateTime(trigger.next_run_at)}`;
    case "event":
      return `${trigger.event_type}${trigger.filter ? ` if ${trigger.filter}` : ""}`;
    case "webhook":
      return `POST ${trigger.webhook_url ?? ""}`;
    default:
      return "by hand";
  }
}

export function TriggersPanel({ workflow }: { workflow: string }) {
  const can = useCan();
  const toast = useToast();
  const client = useQueryClient();
  const [created, setCreated] = useState<Trigger | null>(null);
  const triggers = useQuery({ queryKey: keys.workflowTriggers(workflow), queryFn: () => workflowTriggers.list(workflow) });
  const fire = useMutation({
    mutationFn: (trigger: Trigger) => workflowTriggers.fire(trigger.trigger_id),
    onSuccess: (run) => {
      toast(run ? "Run started" : "Nothing started: the previous run is still going", run ? "success" : "info");
      void client.invalidateQueries({ queryKey: keys.workflowRuns });
      void client.invalidateQueries({ queryKey: keys.workflowTriggers(workflow) });
    },
    onError: (error) => toast(errorText(error), "error"),
  });
  const remove = useMutation({
    mutationFn: (trigger: Trigger) => workflowTriggers.remove(trigger.trigger_id),
    onSuccess: () => void client.invalidateQueries({ queryKey: keys.workflowTriggers(workflow) }),
    onError: (error) => toast(errorText(error), "error"),
  });
  return (
    <div className="space-y-4">
      {created?.secret && (
        <div className="space-y-2">
          <SecretOnce label={`Webhook secret of ${created.name}`} value={created.secret} />
          <p className="text-sm">
            Deliveries go to <code className="text-xs">{`${location.origin}${created.webhook_url ?? ""}`}</code>, signed in the
            <code className="text-xs"> X-MissionControl-Signature: sha256=&lt;HMAC-SHA256 of the body&gt;</code> header, with a
            unique <code className="text-xs">X-MissionControl-Delivery</code> id.
          </p>
        </div>
      )}
      <QueryState query={triggers}>
        {(list) =>
          list.length === 0 ? (
            <Empty title="No triggers">Runs start only when someone starts them.</Empty>
          ) : (
            <ul className="divide-y divide-slate-100 text-sm dark:divide-slate-800" aria-label="Triggers">
              {list.map((trigger) => (
                <li key={trigger.trigger_id} className="flex flex-wrap items-center gap-2 py-2" data-testid="trigger-row">
                  <span className="font-medium">{trigger.name}</span>
                  <Badge tone="indigo">{trigger.kind}</Badge>
                  {!trigger.is_enabled && <Badge>disabled</Badge>}
                  <span className="min-w-0 break-all text-slate-500">{describe(trigger)}</span>
                  <span className="text-xs text-slate-500">
                    fired {trigger.fired}× {trigger.last_fired_at && <>· last {dateTime(trigger.last_fired_at)}</>}
                    {trigger.fired > 0 && <> · <Link className="underline" to="?tab=runs">runs</Link></>}
                  </span>
                  <span className="ml-auto flex gap-1">
                    {can("workflows:run") && (
                      <Button size="sm" onClick={() => fire.mutate(trigger)} disabled={fire.isPending}>
                        <Zap className="size-3.5" aria-hidden /> Fire now
                      </Button>
                    )}
                    {can("workflows:write") && (
                      <Button size="sm" variant="ghost" aria-label={`Delete trigger ${trigger.name}`} onClick={() => remove.mutate(trigger)} disabled={remove.isPending}>
                        <Trash2 className="size-4" aria-hidden />
                      </Button>
                    )}
                  </span>
                </li>
              ))}
            </ul>
          )
        }
      </QueryState>
      {can("workflows:write") && (
        <section className="space-y-2 border-t border-slate-200 pt-4 dark:border-slate-800">
          <h3 className="text-sm font-semibold">New trigger</h3>
          <TriggerForm workflow={workflow} onCreated={(trigger) => { setCreated(trigger); toast(`Trigger ${trigger.name} added`, "success"); }} />
        </section>
      )}
    </div>
  );
}
