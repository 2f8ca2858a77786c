import { Bot } from "lucide-react";
import { Link } from "react-router";
import type { Task } from "../../api/schema.gen";
import { AgentStatusBadge } from "../../components/Badge";
import { Empty, ErrorState, Loading } from "../../components/States";
import { relativeTime, usd } from "../../lib/format";
import { useAgents } from "../agents/useAgents";
import { useSpendToday } from "./useSpendToday";

export function AgentCards({ tasks }: { tasks: Task[] }) {
  const agents = useAgents();
  const spend = useSpendToday();
  if (agents.isPending) return <Loading label="Loading agents" />;
  if (agents.error) return <ErrorState error={agents.error} onRetry={() => void agents.refetch()} />;
  if (agents.list.length === 0) return <Empty title="No agents yet" />;
  const titles = new Map(tasks.map((task) => [task.task_id, task.title]));
  const spendOf = new Map((spend.data?.groups ?? []).map((group) => [group.key, group.cost_usd]));
  return (
    <ul className="grid grid-cols-1 gap-3 sm:grid-cols-2 xl:grid-cols-4" aria-label="Agents">
      {agents.list.map((agent) => (
        <li key={agent.agent_id} data-testid="agent-card" className="rounded-lg border border-slate-200 bg-white p-3 dark:border-slate-800 dark:bg-slate-900">
          <div className="flex items-center gap-2">
            <Bot className="size-4 text-indigo-500" aria-hidden />
            <Link to={`/agents/${agent.agent_id}`} className="font-medium hover:underline">{agent.name}</Link>
            <span className="ml-auto"><AgentStatusBadge status={agent.status} /></span>
          </div>
          <p className="text-xs text-slate-500">{agent.role}</p>
          <dl className="mt-2 grid grid-cols-[auto_1fr] gap-x-2 gap-y-0.5 text-xs">
            <dt className="text-slate-500">Working on</dt>
            <dd className="truncate">
              {agent.current_task_id ? (
                <Link className="hover:underline" to={`/tasks/${agent.current_task_id}`}>
                  {titles.get(agent.current_task_id) ?? "a task"}
                </Link>
              ) : (
                "—"
              )}
            </dd>
            <dt className="text-slate-500">Heartbeat</dt>
            <dd>{relativeTime(agent.last_heartbeat_at)}</dd>
            {spend.data && (
              <>
                <dt className="text-slate-500">Spend today</dt>
                <dd>{usd(spendOf.get(agent.agent_id) ?? 0)}</dd>
              </>
            )}
          </dl>
        </li>
      ))}
    </ul>
  );
}
