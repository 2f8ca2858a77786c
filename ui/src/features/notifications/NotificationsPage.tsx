import { useCan } from "../../auth/useAuth";
import { Button } from "../../components/Button";
import { Card } from "../../components/Card";
import { PageHeader } from "../../components/Card";
import { QueryState } from "../../components/States";
import { NotificationList } from "./NotificationList";
import { useNotifications } from "./useNotifications";

export default function NotificationsPage() {
  const can = useCan();
  const { list, unreadCount, unreadItems, markRead } = useNotifications();
  return (
    <>
      <PageHeader
        title="Notifications"
        subtitle={`${unreadCount} unread`}
        actions={
          unreadCount > 0 &&
          can("notifications:write") && (
            <Button onClick={() => markRead.mutate(unreadItems.map((n) => n.notification_id))}>Mark all read</Button>
          )
        }
      />
      <Card>
        <QueryState query={list}>
          {(page) => <NotificationList items={page.items} onMarkRead={(id) => markRead.mutate([id])} />}
        </QueryState>
      </Card>
    </>
  );
}
