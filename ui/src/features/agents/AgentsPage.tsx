import { Plus } from "lucide-react";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { useCan } from "../../auth/useAuth";
import { AgentStatusBadge, Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Card, PageHeader } from "../../components/Card";
import { Modal } from "../../components/Modal";
import { Empty, ErrorState, Loading } from "../../components/States";
import { relativeTime } from "../../lib/format";
import { AgentForm } from "./AgentForm";
import { ProposalList } from "./ProposalList";
import { useAgents } from "./useAgents";

export default function AgentsPage() {
  const can = useCan();
  const navigate = useNavigate();
  const agents = useAgents();
  const [creating, setCreating] = useState(false);
  return (
    <>
      <PageHeader
        title="Agents"
        subtitle="Who is on the team, what they can do, and how they are doing."
        actions={can("agents:write") && <Button variant="primary" onClick={() => setCreating(true)}><Plus className="size-4" aria-hidden /> New agent</Button>}
      />
      {can("agents:write") && <ProposalList />}
      <Card>
        {agents.isPending ? <Loading /> : agents.error ? <ErrorState error={agents.error} onRetry={() => void agents.refetch()} /> : agents.list.length === 0 ? <Empty title="No agents yet" /> : (
          <div className="overflow-x-auto">
            <table className="w-full text-sm">
              <thead className="text-left text-xs text-slate-500">
                <tr><th className="px-4 py-2">Name</th><th className="px-4 py-2">Role</th><th className="px-4 py-2">Status</th><th className="hidden px-4 py-2 md:table-cell">Capabilities</th><th className="px-4 py-2">Heartbeat</th><th className="px-4 py-2">Version</th></tr>
              </thead>
              <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
                {agents.list.map((agent) => (
                  <tr key={agent.agent_id}>
                    <td className="px-4 py-2 font-medium"><Link to={`/agents/${agent.agent_id}`} className="hover:underline">@{agent.name}</Link></td>
                    <td className="px-4 py-2">{agent.role}</td>
                    <td className="px-4 py-2"><AgentStatusBadge status={agent.status} /></td>
                    <td className="hidden px-4 py-2 md:table-cell"><div className="flex flex-wrap gap-1">{agent.capabilities.map((c) => <Badge key={c}>{c}</Badge>)}</div></td>
                    <td className="px-4 py-2 whitespace-nowrap">{relativeTime(agent.last_heartbeat_at)}</td>
                    <td className="px-4 py-2">v{agent.version}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <Modal title="New agent" open={creating} onClose={() => setCreating(false)} wide>
        <AgentForm onDone={(agent) => { setCreating(false); navigate(`/agents/${agent.agent_id}`); }} />
      </Modal>
    </>
  );
}
