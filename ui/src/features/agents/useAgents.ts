import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { agents } from "../../api/agents";
import type { Agent } from "../../api/schema.gen";
import { keys } from "../../lib/keys";

export function useAgents() {
  const query = useQuery({ queryKey: keys.agents, queryFn: agents.list });
  const byId = useMemo(
    () => new Map<string, Agent>((query.data?.items ?? []).map((agent) => [agent.agent_id, agent])),
    [query.data],
  );
  return { ...query, list: query.data?.items ?? [], byId };
}
