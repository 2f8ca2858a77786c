// The signed-in session: tokens and the chosen tenant, kept in localStorage so a reload or a
// second tab stays signed in. A tiny external store, read by React with useSyncExternalStore.
import type { TokenPair } from "./schema.gen";

export interface Session {
  accessToken: string;
  refreshToken: string;
  /** When the access token stops working (ms since the epoch). */
  expiresAt: number;
  /** The tenant slug sent as X-Tenant, or null for the token's own tenant. */
  tenant: string | null;
  /** The slug of the token's own tenant, once known (no X-Tenant needed for it). */
  homeTenant?: string | null;
}

export type SignOutReason = "signed_out" | "expired";

const KEY = "mc.session";
const listeners = new Set<() => void>();
let current: Session | null = read();
let lastSignOut: SignOutReason | null = null;

function read(): Session | null {
  try {
    const raw = globalThis.localStorage?.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

function write(next: Session | null): void {
  current = next;
  try {
    if (next) localStorage.setItem(KEY, JSON.stringify(next));
    else localStorage.removeItem(KEY);
  } catch {
    // Private mode without storage: the session lives in memory only.
  }
  for (const listener of listeners) listener();
}

// Another tab signed in, out, or refreshed the tokens.
globalThis.addEventListener?.("storage", (event: StorageEvent) => {
  if (event.key === KEY) {
    current = read();
    for (const listener of listeners) listener();
  }
});

export const session = {
  get: (): Session | null => current,
  /** Re-read storage (another tab may have refreshed the tokens meanwhile). */
  reload: (): Session | null => (current = read()),
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  start(tokens: TokenPair, tenant: string | null): void {
    lastSignOut = null;
    write(fromTokens(tokens, tenant));
  },
  update(tokens: TokenPair): void {
    write({ ...fromTokens(tokens, current?.tenant ?? null), homeTenant: current?.homeTenant ?? null });
  },
  /** Work in this tenant: sent as X-Tenant, unless it is the token's own (which the API's
   * read cache can then answer). */
  setTenant(tenant: string | null): void {
    if (current) write({ ...current, tenant: tenant === current.homeTenant ? null : tenant });
  },
  setHomeTenant(slug: string): void {
    if (current) write({ ...current, homeTenant: slug });
  },
  end(reason: SignOutReason): void {
    lastSignOut = reason;
    write(null);
  },
  lastSignOut: (): SignOutReason | null => lastSignOut,
};

function fromTokens(tokens: TokenPair, tenant: string | null): Session {
  return {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    expiresAt: Date.now() + tokens.expires_in * 1000,
    tenant,
  };
}
