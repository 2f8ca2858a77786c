// A new workflow from a built-in template: pick one, fill its parameters (defaults filled in).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { WorkflowSaved, WorkflowTemplate } from "../../api/schema.gen";
import { faultsOf, workflowTemplates } from "../../api/workflows";
import { Button } from "../../components/Button";
import { Field, Input } from "../../components/Field";
import { errorText, QueryState } from "../../components/States";
import { keys } from "../../lib/keys";

const asText = (value: unknown) => (value === null || value === undefined ? "" : String(value));

function Parameters({ template, onDone }: { template: WorkflowTemplate; onDone: (saved: WorkflowSaved) => void }) {
  const client = useQueryClient();
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(template.parameters.map((p) => [p.name, asText(p.default)])),
  );
  const create = useMutation({
    mutationFn: () =>
      workflowTemplates.instantiate(template.name, {
        // Only what differs from the defaults (which keep their types, e.g. numbers).
        parameters: Object.fromEntries(
          template.parameters.filter((p) => values[p.name] !== asText(p.default)).map((p) => [p.name, values[p.name]]),
        ),
      }),
    onSuccess: (saved) => {
      void client.invalidateQueries({ queryKey: keys.workflows });
      onDone(saved);
    },
  });
  const faults = faultsOf(create.error);
  return (
    <form
      aria-label={`Parameters of ${template.title}`}
      className="space-y-3"
      onSubmit={(event) => {
        event.preventDefault();
        create.mutate();
      }}
    >
      {template.parameters.map((parameter) => (
        <Field key={parameter.name} label={parameter.name} hint={`${parameter.description}${parameter.default === null ? " (required)" : ""}`}>
          {(id) => (
            <Input
              id={id}
              value={values[parameter.name] ?? ""}
              required={parameter.default === null}
              onChange={(e) => setValues((all) => ({ ...all, [parameter.name]: e.target.value }))}
            />
          )}
        </Field>
      ))}
      {create.isError && (
        <div role="alert" className="text-sm text-rose-700 dark:text-rose-300">
          {faults.length ? faults.map((f, i) => <p key={i}>{f.location && <code className="mr-1 text-xs">{f.location}</code>}{f.message}</p>) : errorText(create.error)}
        </div>
      )}
      <details className="text-sm">
        <summary className="cursor-pointer text-xs text-slate-500">Template source</summary>
        <pre className="mt-1 max-h-60 overflow-auto rounded-md bg-slate-50 p-2 font-mono text-xs dark:bg-slate-950">{template.source}</pre>
      </details>
      <Button type="submit" variant="primary" disabled={create.isPending}>{create.isPending ? "Creating…" : "Create workflow"}</Button>
    </form>
  );
}

export function TemplateForm({ onDone }: { onDone: (saved: WorkflowSaved) => void }) {
  const templates = useQuery({ queryKey: keys.workflowTemplates, queryFn: workflowTemplates.list, staleTime: Number.POSITIVE_INFINITY });
  const [chosen, setChosen] = useState<string | null>(null);
  return (
    <QueryState query={templates}>
      {(list) => {
        const template = list.find((t) => t.name === chosen);
        return (
          <div className="space-y-4">
            <fieldset className="space-y-2">
              <legend className="mb-1 text-xs font-medium text-slate-600 dark:text-slate-300">Template</legend>
              {list.map((t) => (
                <label key={t.name} className={`grid cursor-pointer grid-cols-[auto_1fr] gap-x-2 rounded-md border p-2 text-sm has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-indigo-500 ${chosen === t.name ? "border-indigo-500 bg-indigo-50 dark:bg-indigo-950" : "border-slate-200 dark:border-slate-700"}`}>
                  <input type="radio" name="template" value={t.name} checked={chosen === t.name} onChange={() => setChosen(t.name)} className="row-span-2 mt-1" aria-labelledby={`template-${t.name}-title`} aria-describedby={`template-${t.name}`} />
                  <span id={`template-${t.name}-title`} className="font-medium">{t.title}</span>
                  <span id={`template-${t.name}`} className="text-xs text-slate-500">{t.description} <code>({t.name})</code></span>
                </label>
              ))}
            </fieldset>
            {template && <Parameters key={template.name} template={template} onDone={onDone} />}
          </div>
        );
      }}
    </QueryState>
  );
}
