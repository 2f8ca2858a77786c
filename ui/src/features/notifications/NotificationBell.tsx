// The bell in the top bar: unread count, the latest notifications, mark read.
import { Bell } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { Link } from "react-router";
import { useCan } from "../../auth/useAuth";
import { Button } from "../../components/Button";
import { NotificationList } from "./NotificationList";
import { useNotifications } from "./useNotifications";

export function NotificationBell() {
  const [open, setOpen] = useState(false);
  const panel = useRef<HTMLDivElement>(null);
  const can = useCan();
  const { list, unreadCount, unreadItems, markRead } = useNotifications();
  useEffect(() => {
    if (!open) return;
    const close = (event: MouseEvent | KeyboardEvent) => {
      if (event instanceof KeyboardEvent ? event.key === "Escape" : !panel.current?.contains(event.target as Node))
        setOpen(false);
    };
    document.addEventListener("mousedown", close);
    document.addEventListener("keydown", close);
    return () => {
      document.removeEventListener("mousedown", close);
      document.removeEventListener("keydown", close);
    };
  }, [open]);
  return (
    <div className="relative" ref={panel}>
      <Button
        variant="ghost"
        size="sm"
        aria-label={`Notifications, ${unreadCount} unread`}
        aria-expanded={open}
        onClick={() => setOpen((value) => !value)}
      >
        <Bell className="size-4" aria-hidden />
        {unreadCount > 0 && (
          <span data-testid="unread-count" className="rounded-full bg-rose-600 px-1.5 text-[10px] font-bold text-white">
            {unreadCount > 99 ? "99+" : unreadCount}
          </span>
        )}
      </Button>
      {open && (
        <div className="absolute right-0 z-40 mt-2 w-80 max-w-[calc(100vw-1.5rem)] rounded-lg border border-slate-200 bg-white shadow-xl dark:border-slate-700 dark:bg-slate-900">
          <div className="flex items-center justify-between border-b border-slate-200 px-3 py-2 dark:border-slate-800">
            <span className="text-sm font-semibold">Notifications</span>
            {unreadCount > 0 && can("notifications:write") && (
              <Button size="sm" variant="ghost" onClick={() => markRead.mutate(unreadItems.map((n) => n.notification_id))}>
                Mark all read
              </Button>
            )}
          </div>
          <div className="max-h-96 overflow-y-auto">
            <NotificationList
              items={(list.data?.items ?? []).slice(0, 8)}
              onMarkRead={(id) => markRead.mutate([id])}
              onNavigate={() => setOpen(false)}
            />
          </div>
          <Link to="/notifications" onClick={() => setOpen(false)} className="block border-t border-slate-200 px-3 py-2 text-center text-sm text-indigo-600 dark:border-slate-800 dark:text-indigo-300">
            See all
          </Link>
        </div>
      )}
    </div>
  );
}
