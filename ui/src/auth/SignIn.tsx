import { useQueryClient } from "@tanstack/react-query";
import { LogIn } from "lucide-react";
import { type FormEvent, useState } from "react";
import { Navigate, useLocation, useNavigate } from "react-router";
import { auth } from "../api/people";
import { session } from "../api/session";
import { Button } from "../components/Button";
import { Field, Input } from "../components/Field";
import { errorText } from "../components/States";
import { rememberTenant } from "./tenants";
import { useSession } from "./useAuth";

export default function SignIn() {
  const current = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const client = useQueryClient();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [tenant, setTenant] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const from = (location.state as { from?: string } | null)?.from ?? "/";
  const expired = session.lastSignOut() === "expired";

  if (current) return <Navigate to={from} replace />;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const slug = tenant.trim() || null;
      const tokens = await auth.login({ email, password, tenant: slug });
      client.clear();
      // The tokens are for the chosen tenant already: no X-Tenant needed.
      session.start(tokens, null);
      const me = await auth.me();
      session.setHomeTenant(me.tenant.slug);
      rememberTenant(me.tenant);
      navigate(from, { replace: true });
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <form
        onSubmit={submit}
        aria-label="Sign in"
        className="w-full max-w-sm space-y-4 rounded-lg border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900"
      >
        <div>
          <h1 className="text-xl font-semibold">Mission Control</h1>
          <p className="text-sm text-slate-500">Sign in to watch and steer your agents.</p>
        </div>
        {expired && (
          <p role="status" className="rounded-md bg-amber-100 p-2 text-sm text-amber-900 dark:bg-amber-900/40 dark:text-amber-100">
            Your session has expired. Sign in again to continue where you were.
          </p>
        )}
        {error && (
          <p role="alert" className="rounded-md bg-rose-100 p-2 text-sm text-rose-900 dark:bg-rose-900/40 dark:text-rose-100">
            {error}
          </p>
        )}
        <Field label="E-mail">
          {(id) => (
            <Input id={id} type="email" autoComplete="username" required autoFocus value={email} onChange={(e) => setEmail(e.target.value)} />
          )}
        </Field>
        <Field label="Password">
          {(id) => (
            <Input id={id} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          )}
        </Field>
        <Field label="Tenant (optional)" hint="The slug of a team, if you belong to several.">
          {(id) => <Input id={id} value={tenant} onChange={(e) => setTenant(e.target.value)} placeholder="default" />}
        </Field>
        <Button type="submit" variant="primary" className="w-full" disabled={busy}>
          <LogIn className="size-4" aria-hidden /> {busy ? "Signing in…" : "Sign in"}
        </Button>
      </form>
    </main>
  );
}
