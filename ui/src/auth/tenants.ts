// Tenants this browser has used: the switcher's list when /auth/me has no memberships (an API
// key), besides any slug typed in.
import type { Tenant } from "../api/schema.gen";

const KEY = "mc.tenants";

export interface KnownTenant {
  slug: string;
  name: string;
}

export function knownTenants(): KnownTenant[] {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? "[]") as KnownTenant[];
  } catch {
    return [];
  }
}

export function rememberTenant(tenant: Tenant): void {
  const others = knownTenants().filter((known) => known.slug !== tenant.slug);
  localStorage.setItem(
    KEY,
    JSON.stringify([{ slug: tenant.slug, name: tenant.name }, ...others].slice(0, 10)),
  );
}
