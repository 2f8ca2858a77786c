// Create or edit an agent (developers and admins). Every change becomes a new version.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { agents } from "../../api/agents";
import type { Agent } from "../../api/schema.gen";
import { Button } from "../../components/Button";
import { Field, Input, Textarea } from "../../components/Field";
import { errorText } from "../../components/States";
import { keys } from "../../lib/keys";

export function AgentForm({ agent, onDone }: { agent?: Agent; onDone: (agent: Agent) => void }) {
  const client = useQueryClient();
  const [name, setName] = useState(agent?.name ?? "");
  const [role, setRole] = useState(agent?.role ?? "");
  const [capabilities, setCapabilities] = useState(agent?.capabilities.join(", ") ?? "");
  const [instructions, setInstructions] = useState(agent?.instructions ?? "");
  const [model, setModel] = useState(agent?.model ?? "default");
  const [interval, setInterval] = useState(String(agent?.heartbeat_interval_seconds ?? 300));
  const save = useMutation({
    mutationFn: () => {
      const data = {
        name,
        role,
        capabilities: capabilities.split(",").map((item) => item.trim()).filter(Boolean),
        instructions,
        model,
        heartbeat_interval_seconds: Number(interval),
      };
      return agent ? agents.update(agent.agent_id, data) : agents.create(data);
    },
    onSuccess: (saved) => {
      void client.invalidateQueries({ queryKey: keys.agents });
      onDone(saved);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  return (
    <form onSubmit={submit} className="space-y-3" aria-label={agent ? "Edit agent" : "New agent"}>
      <div className="grid gap-3 sm:grid-cols-2">
        <Field label="Name" hint="How people @mention it.">{(id) => <Input id={id} required value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="Role">{(id) => <Input id={id} required value={role} onChange={(e) => setRole(e.target.value)} />}</Field>
      </div>
      <Field label="Capabilities" hint="Comma-separated, e.g. research, writing">
        {(id) => <Input id={id} value={capabilities} onChange={(e) => setCapabilities(e.target.value)} />}
      </Field>
      <Field label="Instructions">{(id) => <Textarea id={id} rows={6} value={instructions} onChange={(e) => setInstructions(e.target.value)} />}</Field>
      <div className="grid gap-3 sm:grid-cols-2">
        <Field label="Model policy or deployment" hint="default, smart, fast, cheap, or a deployment name">
          {(id) => <Input id={id} value={model} onChange={(e) => setModel(e.target.value)} />}
        </Field>
        <Field label="Heartbeat interval (seconds)">
          {(id) => <Input id={id} type="number" min={10} value={interval} onChange={(e) => setInterval(e.target.value)} />}
        </Field>
      </div>
      {save.error && <p role="alert" className="text-sm text-rose-600">{errorText(save.error)}</p>}
      <div className="flex justify-end">
        <Button type="submit" variant="primary" disabled={save.isPending}>{agent ? "Save changes" : "Create agent"}</Button>
      </div>
    </form>
  );
}
