import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { people } from "../../api/people";
import type { InvitationCreated, Role } from "../../api/schema.gen";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Card } from "../../components/Card";
import { Field, Input, Select } from "../../components/Field";
import { Empty, errorText, QueryState } from "../../components/States";
import { keys } from "../../lib/keys";
import { dateTime } from "../../lib/format";
import { PEOPLE_ROLES } from "./MembersPanel";
import { SecretOnce } from "./SecretOnce";

export function InvitationsPanel() {
  const client = useQueryClient();
  const query = useQuery({ queryKey: keys.admin("invitations"), queryFn: people.invitations });
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("operator");
  const [created, setCreated] = useState<InvitationCreated | null>(null);
  const refresh = () => void client.invalidateQueries({ queryKey: keys.admin("invitations") });
  const invite = useMutation({ mutationFn: () => people.invite({ email, role }), onSuccess: (result) => { setCreated(result); setEmail(""); refresh(); } });
  const revoke = useMutation({ mutationFn: people.revokeInvitation, onSuccess: refresh });
  const submit = (event: FormEvent) => { event.preventDefault(); invite.mutate(); };
  return (
    <div className="space-y-4">
      <Card className="p-4">
        <form onSubmit={submit} className="flex flex-wrap items-end gap-2" aria-label="Invite someone">
          <div className="min-w-56 flex-1"><Field label="E-mail">{(id) => <Input id={id} type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />}</Field></div>
          <div className="w-36"><Field label="Role">{(id) => <Select id={id} value={role} onChange={(e) => setRole(e.target.value as Role)}>{PEOPLE_ROLES.map((r) => <option key={r}>{r}</option>)}</Select>}</Field></div>
          <Button type="submit" variant="primary" disabled={invite.isPending}>Invite</Button>
        </form>
        {invite.error && <p role="alert" className="mt-2 text-sm text-rose-600">{errorText(invite.error)}</p>}
        {created && <div className="mt-3"><SecretOnce label={`Invitation for ${created.email}: send them this token (POST /api/v1/auth/accept-invitation)`} value={created.token} /></div>}
      </Card>
      <Card>
        <QueryState query={query}>
          {(items) => items.length === 0 ? <Empty title="No invitations" /> : (
            <ul className="divide-y divide-slate-100 dark:divide-slate-800">
              {items.map((item) => {
                const state = item.accepted_at ? "accepted" : item.revoked_at ? "revoked" : new Date(item.expires_at) < new Date() ? "expired" : "pending";
                return (
                  <li key={item.invitation_id} className="flex flex-wrap items-center gap-2 px-4 py-2 text-sm">
                    <span className="flex-1 font-medium">{item.email}</span>
                    <Badge>{item.role}</Badge>
                    <Badge tone={state === "pending" ? "amber" : state === "accepted" ? "green" : "slate"}>{state}</Badge>
                    <span className="text-xs text-slate-500">expires {dateTime(item.expires_at)}</span>
                    {state === "pending" && <Button size="sm" variant="danger" onClick={() => revoke.mutate(item.invitation_id)}>Revoke</Button>}
                  </li>
                );
              })}
            </ul>
          )}
        </QueryState>
      </Card>
    </div>
  );
}
