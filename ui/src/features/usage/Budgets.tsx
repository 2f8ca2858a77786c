import { useQuery } from "@tanstack/react-query";
import { usage } from "../../api/models";
import type { Budget } from "../../api/schema.gen";
import { Badge } from "../../components/Badge";
import { Card, CardHeader } from "../../components/Card";
import { Empty, QueryState } from "../../components/States";
import { keys } from "../../lib/keys";
import { tokens, usd } from "../../lib/format";
import { useAgents } from "../agents/useAgents";

function Meter({ label, used, limit, format }: { label: string; used: number; limit: number; format: (v: number) => string }) {
  const percent = Math.min(100, Math.round((used / Math.max(limit, 1e-9)) * 100));
  const tone = percent >= 100 ? "bg-rose-500" : percent >= 80 ? "bg-amber-500" : "bg-emerald-500";
  return (
    <div className="text-sm">
      <div className="flex justify-between"><span>{label}</span><span className="tabular-nums text-slate-500">{format(used)} of {format(limit)} ({percent}%)</span></div>
      <div className="h-2 rounded-full bg-slate-200 dark:bg-slate-800" role="meter" aria-label={`${label} used`} aria-valuenow={percent} aria-valuemin={0} aria-valuemax={100}>
        <div className={`h-full rounded-full ${tone}`} style={{ width: `${percent}%` }} />
      </div>
    </div>
  );
}

export function Budgets() {
  const query = useQuery({ queryKey: [...keys.usage, "budgets"], queryFn: usage.budgets });
  const { byId } = useAgents();
  const scopeName = (budget: Budget) =>
    budget.scope === "agent" ? `@${byId.get(budget.scope_id ?? "")?.name ?? "agent"}` : budget.scope === "tenant" ? "Whole team" : `${budget.scope} ${budget.scope_id ?? ""}`;
  return (
    <Card className="mt-4">
      <CardHeader title="Budgets" />
      <div className="p-4">
        <QueryState query={query}>
          {(budgets) => budgets.length === 0 ? <Empty title="No budgets set">Developers and admins set them with the CLI or the API.</Empty> : (
            <ul className="space-y-4">
              {budgets.map((budget) => (
                <li key={budget.budget_id} className="space-y-1.5">
                  <div className="flex flex-wrap items-center gap-2 text-sm">
                    <span className="font-medium">{scopeName(budget)}</span>
                    <Badge>{budget.period}</Badge>
                    {budget.is_exhausted && <Badge tone="red">exhausted</Badge>}
                    <span className="text-slate-500">{budget.description}</span>
                  </div>
                  {budget.limit_usd !== null && <Meter label="Spend" used={budget.spent_usd} limit={budget.limit_usd} format={usd} />}
                  {budget.limit_tokens !== null && <Meter label="Tokens" used={budget.spent_tokens} limit={budget.limit_tokens} format={tokens} />}
                </li>
              ))}
            </ul>
          )}
        </QueryState>
      </div>
    </Card>
  );
}
