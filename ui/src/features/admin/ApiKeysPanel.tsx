import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { apiKeys } from "../../api/people";
import type { ApiKeyCreated, Role } from "../../api/schema.gen";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Card } from "../../components/Card";
import { Field, Input, Select } from "../../components/Field";
import { Empty, errorText, QueryState } from "../../components/States";
import { keys } from "../../lib/keys";
import { dateTime, relativeTime } from "../../lib/format";
import { useAgents } from "../agents/useAgents";
import { PEOPLE_ROLES } from "./MembersPanel";
import { SecretOnce } from "./SecretOnce";

export function ApiKeysPanel() {
  const client = useQueryClient();
  const { list: agentList, byId } = useAgents();
  const query = useQuery({ queryKey: keys.admin("keys"), queryFn: apiKeys.list });
  const [name, setName] = useState("");
  const [actsAs, setActsAs] = useState<string>("role:operator");
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const refresh = () => void client.invalidateQueries({ queryKey: keys.admin("keys") });
  const create = useMutation({
    mutationFn: () => apiKeys.create(actsAs.startsWith("role:") ? { name, role: actsAs.slice(5) as Role } : { name, agent_id: actsAs.slice(6) }),
    onSuccess: (key) => { setCreated(key); setName(""); refresh(); },
  });
  const revoke = useMutation({ mutationFn: apiKeys.revoke, onSuccess: refresh });
  const submit = (event: FormEvent) => { event.preventDefault(); create.mutate(); };
  return (
    <div className="space-y-4">
      <Card className="p-4">
        <form onSubmit={submit} className="flex flex-wrap items-end gap-2" aria-label="Create an API key">
          <div className="min-w-48 flex-1"><Field label="Name">{(id) => <Input id={id} required value={name} onChange={(e) => setName(e.target.value)} placeholder="ci-deploy" />}</Field></div>
          <div className="w-48">
            <Field label="Acts as">
              {(id) => (
                <Select id={id} value={actsAs} onChange={(e) => setActsAs(e.target.value)}>
                  <optgroup label="A role">{PEOPLE_ROLES.map((role) => <option key={role} value={`role:${role}`}>{role}</option>)}</optgroup>
                  <optgroup label="An agent">{agentList.map((agent) => <option key={agent.agent_id} value={`agent:${agent.agent_id}`}>@{agent.name}</option>)}</optgroup>
                </Select>
              )}
            </Field>
          </div>
          <Button type="submit" variant="primary" disabled={create.isPending}>Create key</Button>
        </form>
        {create.error && <p role="alert" className="mt-2 text-sm text-rose-600">{errorText(create.error)}</p>}
        {created && <div className="mt-3"><SecretOnce label={`API key ${created.name}`} value={created.key} /></div>}
      </Card>
      <Card>
        <QueryState query={query}>
          {(items) => items.length === 0 ? <Empty title="No API keys" /> : (
            <ul className="divide-y divide-slate-100 dark:divide-slate-800">
              {items.map((key) => (
                <li key={key.api_key_id} className="flex flex-wrap items-center gap-2 px-4 py-2 text-sm">
                  <span className="font-medium">{key.name}</span>
                  <code className="text-xs text-slate-500">{key.prefix}…</code>
                  <Badge>{key.agent_id ? `@${byId.get(key.agent_id)?.name ?? "agent"}` : key.role}</Badge>
                  {key.revoked_at && <Badge tone="red">revoked</Badge>}
                  <span className="flex-1 text-xs text-slate-500">created {dateTime(key.created_at)} · used {relativeTime(key.last_used_at)}</span>
                  {!key.revoked_at && <Button size="sm" variant="danger" onClick={() => revoke.mutate(key.api_key_id)}>Revoke</Button>}
                </li>
              ))}
            </ul>
          )}
        </QueryState>
      </Card>
    </div>
  );
}
