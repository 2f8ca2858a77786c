import { Check } from "lucide-react";
import { Link } from "react-router";
import type { Notification } from "../../api/schema.gen";
import { useCan } from "../../auth/useAuth";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Empty } from "../../components/States";
import { relativeTime } from "../../lib/format";

export function NotificationList({
  items,
  onMarkRead,
  onNavigate,
}: {
  items: Notification[];
  onMarkRead: (id: string) => void;
  onNavigate?: () => void;
}) {
  const can = useCan();
  if (items.length === 0) return <Empty title="No notifications" />;
  return (
    <ul className="divide-y divide-slate-200 dark:divide-slate-800" aria-label="Notifications">
      {items.map((item) => (
        <li key={item.notification_id} className={`flex gap-2 p-3 text-sm ${item.is_read ? "opacity-70" : ""}`}>
          <div className="min-w-0 flex-1 space-y-1">
            <div className="flex items-center gap-2">
              <Badge tone={item.is_read ? "slate" : "indigo"}>{item.kind}</Badge>
              <span className="text-xs text-slate-500">{relativeTime(item.created_at)}</span>
            </div>
            <p className="break-words">{item.content}</p>
            {item.task_id && (
              <Link to={`/tasks/${item.task_id}`} onClick={onNavigate} className="text-xs text-indigo-600 underline dark:text-indigo-300">
                Open the task
              </Link>
            )}
          </div>
          {!item.is_read && can("notifications:write") && (
            <Button size="sm" variant="ghost" aria-label="Mark read" onClick={() => onMarkRead(item.notification_id)}>
              <Check className="size-4" aria-hidden />
            </Button>
          )}
        </li>
      ))}
    </ul>
  );
}
