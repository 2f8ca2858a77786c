// Model deployments and their credentials (keys are write-only: the API only says whether one is set).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { deployments } from "../../api/models";
import type { DeploymentCreate } from "../../api/schema.gen";
import { useCan } from "../../auth/useAuth";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Card, CardHeader } from "../../components/Card";
import { Field, Input, Select } from "../../components/Field";
import { errorText, QueryState } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";

type Provider = DeploymentCreate["provider"];
const PROVIDERS: Provider[] = ["openai", "openai-compatible", "anthropic", "gemini"];

function AddDeployment({ onDone }: { onDone: () => void }) {
  const [name, setName] = useState("");
  const [provider, setProvider] = useState<Provider>("openai");
  const [model, setModel] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const [apiKey, setApiKey] = useState("");
  const create = useMutation({
    mutationFn: () => deployments.create({ name, provider, model, base_url: baseUrl || null, api_key: apiKey || null }),
    onSuccess: () => { setName(""); setModel(""); setBaseUrl(""); setApiKey(""); onDone(); },
  });
  const submit = (event: FormEvent) => { event.preventDefault(); create.mutate(); };
  return (
    <form onSubmit={submit} className="grid gap-2 sm:grid-cols-2 lg:grid-cols-3" aria-label="Add a deployment">
      <Field label="Name">{(id) => <Input id={id} required value={name} onChange={(e) => setName(e.target.value)} placeholder="gpt-main" />}</Field>
      <Field label="Provider">{(id) => <Select id={id} value={provider} onChange={(e) => setProvider(e.target.value as Provider)}>{PROVIDERS.map((p) => <option key={p}>{p}</option>)}</Select>}</Field>
      <Field label="Model">{(id) => <Input id={id} required value={model} onChange={(e) => setModel(e.target.value)} placeholder="gpt-4.1-mini" />}</Field>
      <Field label="Base URL (optional)">{(id) => <Input id={id} value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} placeholder="http://127.0.0.1:11434/v1" />}</Field>
      <Field label="API key (stored sealed)">{(id) => <Input id={id} type="password" autoComplete="off" value={apiKey} onChange={(e) => setApiKey(e.target.value)} />}</Field>
      <div className="flex items-end"><Button type="submit" variant="primary" disabled={create.isPending}>Add deployment</Button></div>
      {create.error && <p role="alert" className="text-sm text-rose-600 sm:col-span-full">{errorText(create.error)}</p>}
    </form>
  );
}

export function ModelsPanel() {
  const can = useCan();
  const toast = useToast();
  const client = useQueryClient();
  const list = useQuery({ queryKey: keys.admin("models"), queryFn: deployments.list });
  const policies = useQuery({ queryKey: keys.admin("policies"), queryFn: deployments.policies });
  const refresh = () => void client.invalidateQueries({ queryKey: keys.admin("models") });
  const toggle = useMutation({ mutationFn: ({ name, enabled }: { name: string; enabled: boolean }) => deployments.update(name, { is_enabled: enabled }), onSuccess: refresh, onError: (e) => toast(errorText(e), "error") });
  const setKey = useMutation({ mutationFn: ({ name, key }: { name: string; key: string }) => deployments.update(name, { api_key: key }), onSuccess: () => { refresh(); toast("Credential saved", "success"); }, onError: (e) => toast(errorText(e), "error") });
  const remove = useMutation({ mutationFn: deployments.remove, onSuccess: refresh, onError: (e) => toast(errorText(e), "error") });
  const test = useMutation({ mutationFn: deployments.test, onSuccess: (r) => toast(`${r.is_ok ? "OK" : "Failed"} in ${Math.round(r.latency_ms)} ms: ${r.detail}`, r.is_ok ? "success" : "error"), onError: (e) => toast(errorText(e), "error") });
  const manage = can("models:manage");
  return (
    <div className="space-y-4">
      {manage && <Card className="p-4"><AddDeployment onDone={refresh} /></Card>}
      <Card>
        <CardHeader title="Deployments" />
        <QueryState query={list}>
          {(items) => (
            <ul className="divide-y divide-slate-100 dark:divide-slate-800">
              {items.map((item) => (
                <li key={item.name} className="flex flex-wrap items-center gap-2 px-4 py-2 text-sm">
                  <span className="font-medium">{item.name}</span>
                  <Badge>{item.provider}</Badge>
                  <span className="text-slate-500">{item.model}</span>
                  {item.is_builtin && <Badge tone="indigo">built in</Badge>}
                  <Badge tone={item.has_api_key || item.provider === "offline" ? "green" : "amber"}>{item.provider === "offline" ? "no key needed" : item.has_api_key ? "key set" : "no key"}</Badge>
                  {!item.is_enabled && <Badge tone="red">disabled</Badge>}
                  <span className="flex-1" />
                  {manage && (
                    <>
                      <Button size="sm" onClick={() => test.mutate(item.name)}>Test</Button>
                      {!item.is_builtin && (
                        <>
                          <Button size="sm" onClick={() => { const key = prompt(`New API key for ${item.name}`); if (key) setKey.mutate({ name: item.name, key }); }}>Set key</Button>
                          <Button size="sm" onClick={() => toggle.mutate({ name: item.name, enabled: !item.is_enabled })}>{item.is_enabled ? "Disable" : "Enable"}</Button>
                          <Button size="sm" variant="danger" onClick={() => { if (confirm(`Remove ${item.name}?`)) remove.mutate(item.name); }}>Remove</Button>
                        </>
                      )}
                    </>
                  )}
                </li>
              ))}
            </ul>
          )}
        </QueryState>
      </Card>
      <Card>
        <CardHeader title="Routing policies" />
        <QueryState query={policies}>
          {(items) => (
            <ul className="divide-y divide-slate-100 dark:divide-slate-800">
              {items.map((policy) => (
                <li key={policy.name} className="flex flex-wrap items-center gap-2 px-4 py-2 text-sm">
                  <span className="font-medium">{policy.name}</span>
                  <Badge>{policy.strategy}</Badge>
                  <span className="text-slate-500">{policy.deployments.join(" → ") || "all deployments"}</span>
                  <span className="text-xs text-slate-500">{policy.description}</span>
                </li>
              ))}
            </ul>
          )}
        </QueryState>
      </Card>
    </div>
  );
}
