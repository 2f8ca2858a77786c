// Switch between the tenants this person belongs to (sent as X-Tenant on every request).
import { Building2 } from "lucide-react";
import { type FormEvent, useState } from "react";
import { auth } from "../api/people";
import { session } from "../api/session";
import { knownTenants, rememberTenant } from "../auth/tenants";
import { useMe } from "../auth/useAuth";
import { Button } from "../components/Button";
import { Field, Input } from "../components/Field";
import { Modal } from "../components/Modal";
import { errorText } from "../components/States";
import { useToast } from "../components/Toast";

export function TenantSwitcher() {
  const { data: me } = useMe();
  const toast = useToast();
  const [open, setOpen] = useState(false);
  const [slug, setSlug] = useState("");
  const [error, setError] = useState<string | null>(null);

  const switchTo = async (target: string) => {
    setError(null);
    try {
      const next = await auth.me(target); // proves membership before we switch
      rememberTenant(next.tenant);
      session.setTenant(target); // a fresh query cache comes with it (app/queryClient.tsx)
      setOpen(false);
      toast(`Switched to ${next.tenant.name}`, "success");
    } catch (caught) {
      setError(errorText(caught));
    }
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (slug.trim()) void switchTo(slug.trim());
  };
  if (!me) return null;
  // The person's memberships from /auth/me; an API key has none, so the ones this browser used.
  const mine = (me.memberships ?? []).map((m) => ({ slug: m.tenant.slug, name: m.tenant.name }));
  const offered = mine.length > 0 ? mine : knownTenants();
  const others = offered.filter((tenant) => tenant.slug !== me.tenant.slug);
  return (
    <>
      <Button variant="ghost" size="sm" onClick={() => setOpen(true)} aria-label={`Tenant: ${me.tenant.name}. Switch tenant`}>
        <Building2 className="size-4" aria-hidden />
        <span className="max-w-32 truncate">{me.tenant.name}</span>
      </Button>
      <Modal title="Switch tenant" open={open} onClose={() => setOpen(false)}>
        <p className="mb-3 text-sm text-slate-500">
          You are in <strong>{me.tenant.name}</strong> ({me.tenant.slug}) as {me.role}.
        </p>
        {others.length > 0 && (
          <ul className="mb-3 space-y-1">
            {others.map((tenant) => (
              <li key={tenant.slug}>
                <Button className="w-full justify-start" onClick={() => void switchTo(tenant.slug)}>
                  {tenant.name} <span className="text-slate-500">({tenant.slug})</span>
                </Button>
              </li>
            ))}
          </ul>
        )}
        <form onSubmit={submit} className="flex items-end gap-2">
          <div className="flex-1">
            <Field label="Another tenant">
              {(id) => <Input id={id} value={slug} onChange={(e) => setSlug(e.target.value)} placeholder="slug" />}
            </Field>
          </div>
          <Button type="submit" variant="primary">Switch</Button>
        </form>
        {error && <p role="alert" className="mt-2 text-sm text-rose-600">{error}</p>}
      </Modal>
    </>
  );
}
