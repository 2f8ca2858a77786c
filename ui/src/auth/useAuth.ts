// Who is signed in, in which tenant, with which role; and what that role may do.
import { useQuery } from "@tanstack/react-query";
import { useSyncExternalStore } from "react";
import { auth } from "../api/people";
import type { Me } from "../api/schema.gen";
import { session, type Session } from "../api/session";
import { keys } from "../lib/keys";
import { allowed, type Permission } from "../lib/permissions";

export function useSession(): Session | null {
  return useSyncExternalStore(session.subscribe, session.get, session.get);
}

export function useMe() {
  const current = useSession();
  return useQuery<Me>({
    queryKey: keys.me(current?.tenant ?? null),
    queryFn: () => auth.me(),
    enabled: current !== null,
    staleTime: 60_000,
  });
}

/** A checker for the signed-in role: `can("tasks:write")`. */
export function useCan(): (permission: Permission) => boolean {
  const { data } = useMe();
  return (permission) => allowed(data?.role, permission);
}
