// Start a run: one field per input of the version that will run (its `inputs` schema).
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Play } from "lucide-react";
import { useMemo, useState } from "react";
import { useNavigate } from "react-router";
import type { Workflow, WorkflowVersion } from "../../api/schema.gen";
import { workflows } from "../../api/workflows";
import { Button } from "../../components/Button";
import { Field, Input, Select, Textarea } from "../../components/Field";
import { errorText } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";
import { type InputField, initialText, inputFields, readInputs } from "./inputs";

function InputControl({ field, id, value, onChange }: { field: InputField; id: string; value: string; onChange: (text: string) => void }) {
  const common = { id, value, "aria-required": field.required, "aria-describedby": `${id}-error` };
  if (field.options)
    return (
      <Select {...common} onChange={(e) => onChange(e.target.value)}>
        {!field.required && <option value="">(default)</option>}
        {field.required && !value && <option value="">Choose…</option>}
        {field.options.map((option) => <option key={String(option)} value={String(option)}>{String(option)}</option>)}
      </Select>
    );
  if (field.type === "boolean")
    return (
      <Select {...common} onChange={(e) => onChange(e.target.value)}>
        {!field.required && <option value="">(default)</option>}
        <option value="true">true</option>
        <option value="false">false</option>
      </Select>
    );
  if (field.type === "number" || field.type === "integer")
    return <Input {...common} type="number" step={field.type === "integer" ? 1 : "any"} onChange={(e) => onChange(e.target.value)} />;
  if (field.type === "object" || field.type === "array" || field.type === "any")
    return <Textarea {...common} rows={3} className="font-mono text-xs" placeholder={field.type === "array" ? "[…]" : "{…}"} onChange={(e) => onChange(e.target.value)} />;
  return <Textarea {...common} rows={2} onChange={(e) => onChange(e.target.value)} />;
}

export function StartRunForm({ workflow, versions }: { workflow: Workflow; versions: WorkflowVersion[] }) {
  const toast = useToast();
  const client = useQueryClient();
  const navigate = useNavigate();
  const defaultVersion = workflow.published_version ?? workflow.latest_version;
  const [chosen, setChosen] = useState<number | null>(null);
  const version = versions.find((v) => v.version === (chosen ?? defaultVersion));
  const fields = useMemo(() => inputFields(version?.definition), [version]);
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const textOf = (field: InputField) => texts[field.name] ?? initialText(field);
  const start = useMutation({
    mutationFn: (inputs: Record<string, unknown>) =>
      workflows.start(workflow.name, { inputs, version: chosen ?? undefined }),
    onSuccess: (run) => {
      toast(`Run started on v${run.version}`, "success");
      void client.invalidateQueries({ queryKey: keys.workflowRuns });
      navigate(`/workflow-runs/${run.run_id}`);
    },
  });
  return (
    <form
      aria-label="Start a run"
      className="space-y-3"
      onSubmit={(event) => {
        event.preventDefault();
        const read = readInputs(fields, Object.fromEntries(fields.map((field) => [field.name, textOf(field)])));
        setErrors(read.errors);
        if (Object.keys(read.errors).length === 0) start.mutate(read.inputs);
      }}
    >
      <div className="w-56">
        <Field label="Version">
          {(id) => (
            <Select id={id} value={chosen ?? ""} onChange={(e) => setChosen(e.target.value ? Number(e.target.value) : null)}>
              <option value="">v{defaultVersion} ({workflow.published_version ? "published" : "newest"})</option>
              {versions.map((v) => <option key={v.version} value={v.version}>v{v.version}{v.tags?.length ? ` (${v.tags.join(", ")})` : ""}</option>)}
            </Select>
          )}
        </Field>
      </div>
      {fields.length === 0 && <p className="text-sm text-slate-500">This version takes no inputs.</p>}
      {fields.map((field) => (
        <Field
          key={`${version?.version}-${field.name}`}
          label={field.name}
          hint={[field.required ? "Required" : "", field.description, field.type !== "string" ? field.type : ""].filter(Boolean).join(" · ") || undefined}
        >
          {(id) => (
            <>
              <InputControl field={field} id={id} value={textOf(field)} onChange={(text) => setTexts((all) => ({ ...all, [field.name]: text }))} />
              {errors[field.name] && <p id={`${id}-error`} role="alert" className="text-xs text-rose-700 dark:text-rose-300">{errors[field.name]}</p>}
            </>
          )}
        </Field>
      ))}
      {start.isError && <p role="alert" className="text-sm text-rose-700 dark:text-rose-300">{errorText(start.error)}</p>}
      <Button type="submit" variant="primary" disabled={start.isPending || !version}>
        <Play className="size-4" aria-hidden /> {start.isPending ? "Starting…" : "Start run"}
      </Button>
    </form>
  );
}
