// The audit trail with filters (actor, action such as auth.*, date range), chain check, CSV.
import { useInfiniteQuery, useMutation } from "@tanstack/react-query";
import { Download, ShieldCheck } from "lucide-react";
import { type FormEvent, useState } from "react";
import { download } from "../../api/client";
import { audit, type AuditQuery } from "../../api/people";
import { Button } from "../../components/Button";
import { Card } from "../../components/Card";
import { Field, Input } from "../../components/Field";
import { Empty, ErrorState, Loading } from "../../components/States";
import { keys } from "../../lib/keys";
import { dateTime } from "../../lib/format";

export function AuditPanel() {
  const [draft, setDraft] = useState<AuditQuery>({});
  const [filters, setFilters] = useState<AuditQuery>({});
  const query = useInfiniteQuery({
    queryKey: [...keys.admin("audit"), filters],
    queryFn: ({ pageParam }) => audit.list({ ...filters, cursor: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => page.next_cursor ?? undefined,
  });
  const verify = useMutation({ mutationFn: audit.verify });
  const set = (field: keyof AuditQuery) => (event: React.ChangeEvent<HTMLInputElement>) => setDraft((current) => ({ ...current, [field]: event.target.value || undefined }));
  const apply = (event: FormEvent) => { event.preventDefault(); setFilters({ ...draft, since: draft.since && `${draft.since}T00:00:00Z`, until: draft.until && `${draft.until}T23:59:59Z` }); };
  const entries = query.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <div className="space-y-4">
      <Card className="p-4">
        <form onSubmit={apply} className="flex flex-wrap items-end gap-2" aria-label="Audit filters">
          <div className="w-44"><Field label="Action">{(id) => <Input id={id} placeholder="auth.*" value={draft.action ?? ""} onChange={set("action")} />}</Field></div>
          <div className="w-64"><Field label="Actor id">{(id) => <Input id={id} value={draft.actor_id ?? ""} onChange={set("actor_id")} />}</Field></div>
          <div className="w-40"><Field label="Since">{(id) => <Input id={id} type="date" value={draft.since ?? ""} onChange={set("since")} />}</Field></div>
          <div className="w-40"><Field label="Until">{(id) => <Input id={id} type="date" value={draft.until ?? ""} onChange={set("until")} />}</Field></div>
          <Button type="submit" variant="primary">Filter</Button>
          <span className="flex-1" />
          <Button onClick={() => void download("/audit", { ...filters, format: "csv" }, "audit.csv")}><Download className="size-4" aria-hidden /> CSV</Button>
          <Button onClick={() => verify.mutate()}><ShieldCheck className="size-4" aria-hidden /> Verify chain</Button>
        </form>
        {verify.data && (
          <p role="status" className={`mt-2 text-sm ${verify.data.intact ? "text-emerald-700 dark:text-emerald-300" : "text-rose-700"}`}>
            {verify.data.intact ? `Intact: ${verify.data.entries} entries checked.` : `Broken at entry ${verify.data.first_break?.audit_id}: ${verify.data.first_break?.reason}`}
          </p>
        )}
      </Card>
      <Card>
        {query.isPending ? <Loading /> : query.error ? <ErrorState error={query.error} onRetry={() => void query.refetch()} /> : entries.length === 0 ? <Empty title="No entries match" /> : (
          <div className="overflow-x-auto">
            <table className="w-full text-sm">
              <thead className="text-left text-xs text-slate-500"><tr><th className="px-4 py-2">When</th><th className="px-4 py-2">Action</th><th className="px-4 py-2">Actor</th><th className="px-4 py-2">Subject</th><th className="px-4 py-2">Details</th></tr></thead>
              <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
                {entries.map((entry) => (
                  <tr key={entry.audit_id} data-testid="audit-row">
                    <td className="px-4 py-1.5 whitespace-nowrap">{dateTime(entry.created_at)}</td>
                    <td className="px-4 py-1.5 font-mono text-xs">{entry.action}</td>
                    <td className="px-4 py-1.5 text-xs">{entry.actor_kind} <span className="font-mono text-slate-500">{entry.actor_id?.slice(-8)}</span></td>
                    <td className="px-4 py-1.5 text-xs">{entry.subject_kind} <span className="font-mono text-slate-500">{entry.subject_id?.slice(-8)}</span></td>
                    <td className="max-w-sm truncate px-4 py-1.5 font-mono text-xs text-slate-500" title={JSON.stringify(entry.details)}>{JSON.stringify(entry.details)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {query.hasNextPage && <div className="p-3 text-center"><Button onClick={() => void query.fetchNextPage()} disabled={query.isFetchingNextPage}>Load more</Button></div>}
      </Card>
    </div>
  );
}
