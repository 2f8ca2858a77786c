import { useDraggable } from "@dnd-kit/core";
import { Flag, Target } from "lucide-react";
import { Link } from "react-router";
import type { Agent, Task } from "../../api/schema.gen";
import { Badge } from "../../components/Badge";

const PRIORITY_TONE = { low: "slate", normal: "slate", high: "amber", urgent: "red" } as const;

export function TaskCardBody({ task, agentsById }: { task: Task; agentsById: Map<string, Agent> }) {
  const names = task.assignee_ids.map((id) => agentsById.get(id)?.name ?? "unknown");
  return (
    <>
      <div className="flex items-start gap-1.5">
        {task.is_goal && <Target className="mt-0.5 size-3.5 shrink-0 text-indigo-500" aria-label="Goal" />}
        <Link
          to={`/tasks/${task.task_id}`}
          className="min-w-0 flex-1 text-sm font-medium break-words hover:underline"
          draggable={false}
        >
          {task.title}
        </Link>
      </div>
      <div className="mt-1.5 flex flex-wrap items-center gap-1">
        {task.priority !== "normal" && (
          <Badge tone={PRIORITY_TONE[task.priority]}>
            <Flag className="mr-0.5 size-3" aria-hidden />
            {task.priority}
          </Badge>
        )}
        {names.map((name) => (
          <Badge key={name} tone="indigo">@{name}</Badge>
        ))}
      </div>
      {task.status === "blocked" && task.status_reason && (
        <p className="mt-1 text-xs text-rose-700 dark:text-rose-300">{task.status_reason}</p>
      )}
    </>
  );
}

export function TaskCard({
  task,
  agentsById,
  canMove,
}: {
  task: Task;
  agentsById: Map<string, Agent>;
  canMove: boolean;
}) {
  const { attributes, listeners, setNodeRef, isDragging } = useDraggable({
    id: task.task_id,
    data: { task },
    disabled: !canMove,
  });
  return (
    <li
      ref={setNodeRef}
      {...attributes}
      {...listeners}
      aria-roledescription={canMove ? "draggable task" : undefined}
      aria-label={`${task.title}${canMove ? ". Press space to move it" : ""}`}
      data-testid="task-card"
      data-task-id={task.task_id}
      className={`rounded-md border border-slate-200 bg-white p-2.5 shadow-xs dark:border-slate-700 dark:bg-slate-800 ${
        canMove ? "cursor-grab touch-none focus-visible:outline-2 focus-visible:outline-indigo-500" : ""
      } ${isDragging ? "opacity-40" : ""}`}
    >
      <TaskCardBody task={task} agentsById={agentsById} />
    </li>
  );
}
