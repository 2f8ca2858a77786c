// One agent: profile, spend, versions (diff, rollback), activity; edit for developers and admins.
import { useQuery } from "@tanstack/react-query";
import { ArrowLeft, Pencil } from "lucide-react";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { activities, agents } from "../../api/agents";
import { usage } from "../../api/models";
import { useCan } from "../../auth/useAuth";
import { AgentStatusBadge, Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Card, CardHeader } from "../../components/Card";
import { Modal } from "../../components/Modal";
import { QueryState } from "../../components/States";
import { Tabs } from "../../components/Tabs";
import { keys } from "../../lib/keys";
import { daysAgo, relativeTime, tokens, usd } from "../../lib/format";
import { EventList } from "../command/ActivityFeed";
import { AgentForm } from "./AgentForm";
import { VersionsPanel } from "./VersionsPanel";

type Tab = "profile" | "versions" | "activity";

function Spend({ agentId }: { agentId: string }) {
  const can = useCan();
  const query = useQuery({ queryKey: [...keys.usage, "agent", agentId], queryFn: () => usage.report({ group_by: "day", agent_id: agentId, since: daysAgo(29) }), enabled: can("models:read") });
  if (!can("models:read") || !query.data) return null;
  const { total } = query.data;
  return <p className="text-sm">Last 30 days: <strong>{usd(total.cost_usd)}</strong> · {tokens(total.input_tokens + total.output_tokens)} tokens · {total.requests} model calls</p>;
}

export default function AgentPage() {
  const { agentId = "" } = useParams();
  const can = useCan();
  const [tab, setTab] = useState<Tab>("profile");
  const [editing, setEditing] = useState(false);
  const agent = useQuery({ queryKey: keys.agent(agentId), queryFn: () => agents.get(agentId) });
  const activity = useQuery({ queryKey: [...keys.agents, "activity", agentId], queryFn: () => activities.ofAgent(agentId), enabled: tab === "activity" });
  return (
    <QueryState query={agent}>
      {(data) => (
        <div className="space-y-4">
          <Link to="/agents" className="inline-flex items-center gap-1 text-sm text-slate-500 hover:underline"><ArrowLeft className="size-4" aria-hidden /> Agents</Link>
          <div className="flex flex-wrap items-center gap-2">
            <h1 className="text-xl font-semibold">@{data.name}</h1>
            <AgentStatusBadge status={data.status} />
            <Badge>v{data.version}</Badge>
            {can("agents:write") && <Button className="ml-auto" onClick={() => setEditing(true)}><Pencil className="size-4" aria-hidden /> Edit</Button>}
          </div>
          <Tabs label="Agent" value={tab} onChange={setTab} tabs={[{ id: "profile", label: "Profile" }, { id: "versions", label: "Versions" }, { id: "activity", label: "Activity" }]} />
          {tab === "profile" && (
            <div className="grid gap-4 lg:grid-cols-2">
              <Card>
                <CardHeader title="Profile" />
                <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1.5 p-4 text-sm">
                  <dt className="text-slate-500">Role</dt><dd>{data.role}</dd>
                  <dt className="text-slate-500">Capabilities</dt><dd className="flex flex-wrap gap-1">{data.capabilities.map((c) => <Badge key={c}>{c}</Badge>)}</dd>
                  <dt className="text-slate-500">Model policy</dt><dd>{data.model}{data.model === "offline" && <span className="ml-1 text-xs text-amber-600">(built-in offline model)</span>}</dd>
                  <dt className="text-slate-500">Heartbeat</dt><dd>every {data.heartbeat_interval_seconds}s · last {relativeTime(data.last_heartbeat_at)}</dd>
                  <dt className="text-slate-500">Current task</dt><dd>{data.current_task_id ? <Link className="hover:underline" to={`/tasks/${data.current_task_id}`}>open</Link> : "—"}</dd>
                  <dt className="text-slate-500">Session key</dt><dd className="font-mono text-xs">{data.session_key}</dd>
                </dl>
                <div className="px-4 pb-4"><Spend agentId={data.agent_id} /></div>
              </Card>
              <Card>
                <CardHeader title="Instructions" />
                <p className="p-4 text-sm whitespace-pre-wrap">{data.instructions || "None."}</p>
              </Card>
            </div>
          )}
          {tab === "versions" && <Card className="p-4"><VersionsPanel agent={data} /></Card>}
          {tab === "activity" && <Card><QueryState query={activity}>{(page) => <EventList events={page.items} />}</QueryState></Card>}
          <Modal title={`Edit @${data.name}`} open={editing} onClose={() => setEditing(false)} wide>
            <AgentForm agent={data} onDone={() => setEditing(false)} />
          </Modal>
        </div>
      )}
    </QueryState>
  );
}
