// A definition checked by the API (`POST /workflows/validate`): its faults and the graph to draw.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { workflows } from "../../api/workflows";

/** `value`, once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/** Check `source` (the same text is checked once: versions never change). */
export function useCheckedDefinition(source: string | undefined) {
  return useQuery({
    queryKey: ["workflow-validate", source ?? ""],
    queryFn: ({ signal }) => workflows.validate(source ?? "", signal),
    enabled: source !== undefined && source.trim() !== "",
    staleTime: Number.POSITIVE_INFINITY,
    placeholderData: keepPreviousData,
  });
}
