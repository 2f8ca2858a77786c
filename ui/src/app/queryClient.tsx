// One query cache per tenant: switching tenant starts from an empty cache, and answers still in
// flight for the previous tenant land in the old cache, never on the new tenant's pages.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { type ReactNode, useMemo } from "react";
import { ApiError } from "../api/client";
import { session } from "../api/session";
import { useSession } from "../auth/useAuth";

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        refetchOnWindowFocus: false,
        // A 4xx will not get better by asking again.
        retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
      },
    },
  });
}

/** The cache the page starts with (main.tsx may prefetch into it before React renders). */
export const initialQueryClient = makeQueryClient();
const initialTenant = session.get()?.tenant ?? null;
let initialUsed = false;

function clientFor(tenant: string | null): QueryClient {
  if (!initialUsed && tenant === initialTenant) {
    initialUsed = true;
    return initialQueryClient;
  }
  return makeQueryClient();
}

export function TenantQueryProvider({ children }: { children: ReactNode }) {
  const tenant = useSession()?.tenant ?? null;
  const client = useMemo(() => clientFor(tenant), [tenant]);
  // Keyed: a query observer stays with the client it was created with, so the pages under the
  // provider mount again to use the new tenant's cache.
  return (
    <QueryClientProvider key={tenant ?? ""} client={client}>
      {children}
    </QueryClientProvider>
  );
}
