import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { people } from "../../api/people";
import type { Role } from "../../api/schema.gen";
import { useMe } from "../../auth/useAuth";
import { Button } from "../../components/Button";
import { Card } from "../../components/Card";
import { Select } from "../../components/Field";
import { errorText, QueryState } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";
import { dateTime } from "../../lib/format";

export const PEOPLE_ROLES: Role[] = ["admin", "developer", "operator", "viewer"];

export function MembersPanel() {
  const client = useQueryClient();
  const toast = useToast();
  const { data: me } = useMe();
  const query = useQuery({ queryKey: keys.admin("members"), queryFn: people.members });
  const onDone = { onSuccess: () => void client.invalidateQueries({ queryKey: keys.admin("members") }), onError: (error: Error) => toast(errorText(error), "error") };
  const setRole = useMutation({ mutationFn: ({ userId, role }: { userId: string; role: Role }) => people.setRole(userId, role), ...onDone });
  const remove = useMutation({ mutationFn: (userId: string) => people.remove(userId), ...onDone });
  return (
    <Card>
      <QueryState query={query}>
        {(members) => (
          <div className="overflow-x-auto">
            <table className="w-full text-sm">
              <thead className="text-left text-xs text-slate-500"><tr><th className="px-4 py-2">Person</th><th className="px-4 py-2">Role</th><th className="px-4 py-2">Joined</th><th className="px-4 py-2"><span className="sr-only">Actions</span></th></tr></thead>
              <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
                {members.map((member) => (
                  <tr key={member.user_id}>
                    <td className="px-4 py-2"><div className="font-medium">{member.display_name}</div><div className="text-xs text-slate-500">{member.email}</div></td>
                    <td className="px-4 py-2">
                      <Select aria-label={`Role of ${member.email}`} value={member.role} className="w-36" onChange={(e) => setRole.mutate({ userId: member.user_id, role: e.target.value as Role })}>
                        {PEOPLE_ROLES.map((role) => <option key={role}>{role}</option>)}
                      </Select>
                    </td>
                    <td className="px-4 py-2 whitespace-nowrap">{dateTime(member.joined_at)}</td>
                    <td className="px-4 py-2 text-right">
                      {member.user_id !== me?.user?.user_id && (
                        <Button size="sm" variant="danger" onClick={() => { if (confirm(`Remove ${member.email} from this tenant?`)) remove.mutate(member.user_id); }}>Remove</Button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryState>
    </Card>
  );
}
