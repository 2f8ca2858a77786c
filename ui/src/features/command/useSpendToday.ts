import { useQuery } from "@tanstack/react-query";
import { usage } from "../../api/models";
import { useCan } from "../../auth/useAuth";
import { keys } from "../../lib/keys";
import { useToday } from "../../lib/useToday";

/** Today's model usage by agent (UTC day), or undefined when the role may not read usage. */
export function useSpendToday() {
  const can = useCan();
  const today = useToday();
  return useQuery({
    queryKey: [...keys.usage, "agents", today],
    queryFn: () => usage.report({ group_by: "agent", since: today }),
    enabled: can("models:read"),
  });
}
