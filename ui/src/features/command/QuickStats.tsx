import { useQuery } from "@tanstack/react-query";
import { activities } from "../../api/agents";
import type { Task } from "../../api/schema.gen";
import { keys } from "../../lib/keys";
import { usd } from "../../lib/format";
import { useToday } from "../../lib/useToday";
import { useAgents } from "../agents/useAgents";
import { useSpendToday } from "./useSpendToday";

const PAGE = 200;

function Stat({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-3 dark:border-slate-800 dark:bg-slate-900">
      <dt className="text-xs text-slate-500">{label}</dt>
      <dd className="text-2xl font-semibold tabular-nums" data-testid={testId}>{value}</dd>
    </div>
  );
}

export function QuickStats({ tasks }: { tasks: Task[] }) {
  const agents = useAgents();
  const spend = useSpendToday();
  const midnight = new Date(`${useToday()}T00:00:00Z`);
  const messages = useQuery({
    queryKey: [...keys.stats, "messages", midnight.toISOString()],
    queryFn: () => activities.feed(PAGE, "message.created"),
  });
  const open = tasks.filter((task) => task.status !== "done").length;
  const active = agents.list.filter((agent) => agent.status === "active").length;
  const today = (messages.data?.items ?? []).filter((event) => new Date(event.created_at) >= midnight).length;
  return (
    <dl className="grid grid-cols-2 gap-3 lg:grid-cols-4" aria-label="Quick stats">
      <Stat label="Open tasks" value={String(open)} testId="stat-open" />
      <Stat label="Active agents" value={agents.isPending ? "…" : `${active} / ${agents.list.length}`} testId="stat-active" />
      <Stat label="Messages today" value={messages.isPending ? "…" : today >= PAGE ? `${PAGE}+` : String(today)} testId="stat-messages" />
      <Stat label="Spend today" value={spend.data ? usd(spend.data.total.cost_usd) : spend.isError ? "—" : "…"} testId="stat-spend" />
    </dl>
  );
}
