// An agent's definition history: compare two versions, bring an earlier one back.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { agents } from "../../api/agents";
import type { Agent } from "../../api/schema.gen";
import { useCan } from "../../auth/useAuth";
import { Button } from "../../components/Button";
import { UnifiedDiff } from "../../components/DiffView";
import { Field, Select } from "../../components/Field";
import { errorText, QueryState } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";
import { dateTime } from "../../lib/format";

function Diff({ agentId, from, to }: { agentId: string; from: number; to: number }) {
  const query = useQuery({ queryKey: [...keys.agentVersions(agentId), "diff", from, to], queryFn: () => agents.diff(agentId, from, to) });
  return (
    <QueryState query={query}>
      {(diff) => {
        const entries = Object.entries(diff.changes);
        if (entries.length === 0) return <p className="text-sm text-slate-500">No changes between v{from} and v{to}.</p>;
        return (
          <dl className="space-y-2 text-sm" data-testid="agent-diff">
            {entries.map(([field, change]) => (
              <div key={field}>
                <dt className="font-medium">{field}</dt>
                <dd>
                  {change.unified_diff ? <UnifiedDiff text={change.unified_diff} /> : (
                    <p><span className="bg-rose-100 line-through dark:bg-rose-950">{JSON.stringify(change.old)}</span> → <span className="bg-emerald-100 dark:bg-emerald-950">{JSON.stringify(change.new)}</span></p>
                  )}
                </dd>
              </div>
            ))}
          </dl>
        );
      }}
    </QueryState>
  );
}

export function VersionsPanel({ agent }: { agent: Agent }) {
  const can = useCan();
  const toast = useToast();
  const client = useQueryClient();
  const versions = useQuery({ queryKey: keys.agentVersions(agent.agent_id), queryFn: () => agents.versions(agent.agent_id) });
  const [from, setFrom] = useState(Math.max(1, agent.version - 1));
  const [to, setTo] = useState(agent.version);
  const rollback = useMutation({
    mutationFn: (version: number) => agents.rollback(agent.agent_id, version),
    onSuccess: (saved) => {
      toast(`Restored as version ${saved.version}`, "success");
      void client.invalidateQueries({ queryKey: keys.agents });
    },
    onError: (error) => toast(errorText(error), "error"),
  });
  return (
    <QueryState query={versions}>
      {(list) => (
        <div className="space-y-4">
          <ul className="divide-y divide-slate-100 text-sm dark:divide-slate-800" aria-label="Versions">
            {list.map((version) => (
              <li key={version.version} className="flex flex-wrap items-center gap-2 py-2">
                <span className="font-medium">v{version.version}</span>
                {version.version === agent.version && <span className="text-xs text-emerald-600">current</span>}
                <span className="text-slate-500">{dateTime(version.created_at)} by {version.created_by_kind}</span>
                {version.note && <span className="text-slate-500">— {version.note}</span>}
                {can("agents:write") && version.version !== agent.version && (
                  <Button size="sm" className="ml-auto" onClick={() => rollback.mutate(version.version)} disabled={rollback.isPending}>Roll back to v{version.version}</Button>
                )}
              </li>
            ))}
          </ul>
          {list.length > 1 && (
            <div className="space-y-2">
              <div className="flex flex-wrap items-end gap-2">
                <div className="w-28"><Field label="From">{(id) => <Select id={id} value={from} onChange={(e) => setFrom(Number(e.target.value))}>{list.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}</Select>}</Field></div>
                <div className="w-28"><Field label="To">{(id) => <Select id={id} value={to} onChange={(e) => setTo(Number(e.target.value))}>{list.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}</Select>}</Field></div>
              </div>
              {from !== to && <Diff agentId={agent.agent_id} from={from} to={to} />}
            </div>
          )}
        </div>
      )}
    </QueryState>
  );
}
