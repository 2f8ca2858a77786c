import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { goals } from "../../api/board";
import { StatusBadge } from "../../components/Badge";
import { Empty, QueryState } from "../../components/States";
import { keys } from "../../lib/keys";
import { relativeTime } from "../../lib/format";

export function RecentGoals({ onOpen }: { onOpen: (goalId: string) => void }) {
  const query = useQuery({ queryKey: [...keys.goals, "recent"], queryFn: () => goals.list(8) });
  return (
    <QueryState query={query}>
      {(page) =>
        page.items.length === 0 ? (
          <Empty title="No goals yet">Give the team a goal to get started.</Empty>
        ) : (
          <ul className="divide-y divide-slate-100 dark:divide-slate-800" aria-label="Recent goals">
            {page.items.map((goal) => (
              <li key={goal.task_id} className="flex items-center gap-2 px-3 py-2 text-sm">
                <StatusBadge status={goal.status} />
                <button type="button" className="min-w-0 flex-1 truncate text-left hover:underline" onClick={() => onOpen(goal.task_id)}>
                  {goal.title}
                </button>
                <span className="text-xs text-slate-500">{relativeTime(goal.created_at)}</span>
                <Link to={`/goals/${goal.task_id}`} className="sr-only focus:not-sr-only">Open {goal.title}</Link>
              </li>
            ))}
          </ul>
        )
      }
    </QueryState>
  );
}
