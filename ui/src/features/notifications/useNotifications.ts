import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { notifications } from "../../api/people";
import { useMe } from "../../auth/useAuth";
import { keys } from "../../lib/keys";

export function useNotifications() {
  const { data: me } = useMe();
  const userId = me?.user?.user_id;
  const client = useQueryClient();
  const list = useQuery({
    queryKey: [...keys.notifications, "mine", userId],
    queryFn: () => notifications.mine(userId!),
    enabled: userId !== undefined,
  });
  const unread = useQuery({
    queryKey: [...keys.notifications, "unread", userId],
    queryFn: () => notifications.unread(userId!),
    enabled: userId !== undefined,
  });
  const markRead = useMutation({
    // The API's mark-all-read covers every notification in the tenant (agents' too), so a
    // person's "mark all" marks their own unread ones one by one.
    mutationFn: async (ids: string[]) => {
      for (const id of ids) await notifications.markRead(id);
    },
    onSettled: () => client.invalidateQueries({ queryKey: keys.notifications }),
  });
  const unreadItems = unread.data?.items ?? [];
  return { list, unread, unreadCount: unreadItems.length, unreadItems, markRead };
}
