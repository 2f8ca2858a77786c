// Agents the orchestrator proposed for work nobody can do: a person approves or declines.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { proposals } from "../../api/agents";
import { Button } from "../../components/Button";
import { Card, CardHeader } from "../../components/Card";
import { errorText } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";

export function ProposalList() {
  const client = useQueryClient();
  const toast = useToast();
  const query = useQuery({ queryKey: [...keys.agents, "proposals"], queryFn: proposals.list });
  const decide = useMutation({
    mutationFn: ({ id, approve }: { id: string; approve: boolean }) => (approve ? proposals.approve(id) : proposals.reject(id)),
    onSuccess: () => void client.invalidateQueries({ queryKey: keys.agents }),
    onError: (error) => toast(errorText(error), "error"),
  });
  const items = query.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <Card className="mb-4">
      <CardHeader title="Proposed agents" />
      <ul className="divide-y divide-slate-100 dark:divide-slate-800">
        {items.map((item) => (
          <li key={item.proposal_id} className="flex flex-wrap items-center gap-2 px-4 py-2 text-sm">
            <span className="font-medium">@{item.name}</span> <span className="text-slate-500">{item.role}</span>
            <span className="min-w-0 flex-1 text-slate-500">{item.reason}</span>
            <Button size="sm" variant="primary" onClick={() => decide.mutate({ id: item.proposal_id, approve: true })}>Approve</Button>
            <Button size="sm" onClick={() => decide.mutate({ id: item.proposal_id, approve: false })}>Decline</Button>
          </li>
        ))}
      </ul>
    </Card>
  );
}
