// Spend and tokens by day, agent and model over a date range; budgets; CSV export.
import { useQuery } from "@tanstack/react-query";
import { Download } from "lucide-react";
import { useState } from "react";
import { download } from "../../api/client";
import { usage, type UsageQuery } from "../../api/models";
import type { UsageGroupBy, UsageReport } from "../../api/schema.gen";
import { Button } from "../../components/Button";
import { Card, CardHeader, PageHeader } from "../../components/Card";
import { Field, Input } from "../../components/Field";
import { Empty, QueryState } from "../../components/States";
import { keys } from "../../lib/keys";
import { daysAgo, tokens, usd, utcDay } from "../../lib/format";
import { useAgents } from "../agents/useAgents";
import { Budgets } from "./Budgets";
import { BarList, ColumnChart } from "./Charts";

/** Every day of the range, with zeroes where nothing was used. */
export function fillDays(report: UsageReport, since: string, until: string) {
  const byDay = new Map(report.groups.map((group) => [group.key, group]));
  const days: string[] = [];
  for (let day = new Date(`${since}T00:00:00Z`); utcDay(day) <= until; day = new Date(day.getTime() + 86_400_000))
    days.push(utcDay(day));
  return days.map((day) => ({ day, group: byDay.get(day) }));
}

function useReport(groupBy: UsageGroupBy, since: string, until: string) {
  const query: UsageQuery = { group_by: groupBy, since, until };
  return useQuery({ queryKey: [...keys.usage, groupBy, since, until], queryFn: () => usage.report(query) });
}

export default function UsagePage() {
  const [since, setSince] = useState(() => daysAgo(13));
  const [until, setUntil] = useState(() => utcDay(new Date()));
  const byDay = useReport("day", since, until);
  const byAgent = useReport("agent", since, until);
  const byModel = useReport("model", since, until);
  const { byId } = useAgents();
  const preset = (days: number) => { setSince(daysAgo(days - 1)); setUntil(utcDay(new Date())); };
  const exportCsv = (groupBy: UsageGroupBy) => void download("/usage", { group_by: groupBy, since, until, format: "csv" }, `usage-by-${groupBy}-${since}-${until}.csv`);
  return (
    <>
      <PageHeader title="Usage and budgets" subtitle="What the agents spent on models, and how much of each budget is used." />
      <div className="mb-4 flex flex-wrap items-end gap-2">
        <div className="w-40"><Field label="From">{(id) => <Input id={id} type="date" value={since} max={until} onChange={(e) => setSince(e.target.value)} />}</Field></div>
        <div className="w-40"><Field label="To">{(id) => <Input id={id} type="date" value={until} min={since} onChange={(e) => setUntil(e.target.value)} />}</Field></div>
        <Button onClick={() => preset(7)}>7 days</Button>
        <Button onClick={() => preset(30)}>30 days</Button>
        <Button onClick={() => preset(90)}>90 days</Button>
        <div className="flex-1" />
        <Button onClick={() => exportCsv("day")}><Download className="size-4" aria-hidden /> CSV by day</Button>
        <Button onClick={() => exportCsv("agent")}><Download className="size-4" aria-hidden /> CSV by agent</Button>
        <Button onClick={() => exportCsv("model")}><Download className="size-4" aria-hidden /> CSV by model</Button>
      </div>
      <QueryState query={byDay} loadingLabel="Loading usage">
        {(report) => {
          const days = fillDays(report, since, until);
          return (
            <div className="space-y-4">
              <dl className="grid grid-cols-2 gap-3 lg:grid-cols-4">
                {[["Spend", usd(report.total.cost_usd)], ["Tokens", tokens(report.total.input_tokens + report.total.output_tokens)], ["Model calls", String(report.total.requests)], ["Errors", String(report.total.errors)]].map(([label, value]) => (
                  <div key={label} className="rounded-lg border border-slate-200 bg-white p-3 dark:border-slate-800 dark:bg-slate-900"><dt className="text-xs text-slate-500">{label}</dt><dd className="text-xl font-semibold">{value}</dd></div>
                ))}
              </dl>
              <div className="grid gap-4 lg:grid-cols-2">
                <Card><CardHeader title="Spend by day" /><div className="p-3"><ColumnChart title="Spend by day" series={["spend"]} format={usd} bars={days.map(({ day, group }) => ({ label: day, values: [group?.cost_usd ?? 0] }))} /></div></Card>
                <Card><CardHeader title="Tokens by day" /><div className="p-3"><ColumnChart title="Tokens by day" series={["input", "output"]} format={tokens} bars={days.map(({ day, group }) => ({ label: day, values: [group?.input_tokens ?? 0, group?.output_tokens ?? 0] }))} /></div></Card>
              </div>
            </div>
          );
        }}
      </QueryState>
      <div className="mt-4 grid gap-4 lg:grid-cols-2">
        <Card>
          <CardHeader title="By agent" />
          <div className="p-4">
            <QueryState query={byAgent}>
              {(report) => report.groups.length === 0 ? <Empty title="No usage in this range" /> : (
                <BarList format={usd} items={report.groups.map((group) => ({ label: `@${byId.get(group.key ?? "")?.name ?? (group.key ? "deleted agent" : "no agent")} · ${tokens(group.input_tokens + group.output_tokens)} tokens`, value: group.cost_usd }))} />
              )}
            </QueryState>
          </div>
        </Card>
        <Card>
          <CardHeader title="By model" />
          <div className="p-4">
            <QueryState query={byModel}>
              {(report) => report.groups.length === 0 ? <Empty title="No usage in this range" /> : (
                <BarList format={usd} items={report.groups.map((group) => ({ label: `${group.key ?? "unknown"} · ${tokens(group.input_tokens + group.output_tokens)} tokens`, value: group.cost_usd }))} />
              )}
            </QueryState>
          </div>
        </Card>
      </div>
      <Budgets />
    </>
  );
}
