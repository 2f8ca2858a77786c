// The live activity feed: the latest events, then each new one as the stream delivers it.
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { activities } from "../../api/agents";
import type { Event } from "../../api/schema.gen";
import { useLiveEvents } from "../../app/live";
import { Empty, ErrorState, Loading } from "../../components/States";
import { keys } from "../../lib/keys";
import { relativeTime } from "../../lib/format";

const KEEP = 60;

export function mergeEvents(current: Event[], incoming: Event[]): Event[] {
  const seen = new Set(current.map((event) => event.event_id));
  const fresh = incoming.filter((event) => !seen.has(event.event_id));
  return [...fresh, ...current].sort((a, b) => b.event_id - a.event_id).slice(0, KEEP);
}

export function EventList({ events }: { events: Event[] }) {
  if (events.length === 0) return <Empty title="Nothing has happened yet" />;
  return (
    <ol className="divide-y divide-slate-100 dark:divide-slate-800" aria-label="Activity">
      {events.map((event) => (
        <li key={event.event_id} className="px-3 py-2 text-sm" data-testid="activity-item">
          <p className="break-words">
            {event.task_id ? (
              <Link to={`/tasks/${event.task_id}`} className="hover:underline">{event.summary}</Link>
            ) : (
              event.summary
            )}
          </p>
          <p className="text-xs text-slate-500">
            <span className="font-mono">{event.event_type}</span> · {relativeTime(event.created_at)}
          </p>
        </li>
      ))}
    </ol>
  );
}

export function ActivityFeed() {
  const initial = useQuery({ queryKey: [...keys.activity, "feed"], queryFn: () => activities.feed(30), staleTime: Infinity });
  const [live, setLive] = useState<Event[]>([]);
  useLiveEvents((event) => setLive((current) => mergeEvents(current, [event])));
  if (initial.isPending) return <Loading label="Loading activity" />;
  if (initial.error) return <ErrorState error={initial.error} onRetry={() => void initial.refetch()} />;
  return <EventList events={mergeEvents(live, initial.data.items)} />;
}
