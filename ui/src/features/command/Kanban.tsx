// The task board: a column per status; drag a card to move it. The API decides what is legal:
// a refused move snaps back and says why.
import {
  type CollisionDetection,
  DndContext,
  type DragEndEvent,
  DragOverlay,
  type DragStartEvent,
  KeyboardSensor,
  PointerSensor,
  pointerWithin,
  rectIntersection,
  useDroppable,
  useSensor,
  useSensors,
} from "@dnd-kit/core";
import { X } from "lucide-react";
import { useMemo, useState } from "react";
import type { Agent, Task, TaskStatus } from "../../api/schema.gen";
import { useCan } from "../../auth/useAuth";
import { Button } from "../../components/Button";
import { BOARD_COLUMNS, STATUS_LABELS } from "../../lib/format";
import { useAgents } from "../agents/useAgents";
import { TaskCard, TaskCardBody } from "./TaskCard";
import { useMoveTask } from "./useBoard";

const SHOWN_DONE = 15;

function Column({
  status,
  tasks,
  agentsById,
  canMove,
}: {
  status: TaskStatus;
  tasks: Task[];
  agentsById: Map<string, Agent>;
  canMove: boolean;
}) {
  const { setNodeRef, isOver } = useDroppable({ id: status });
  const shown = status === "done" ? tasks.slice(0, SHOWN_DONE) : tasks;
  return (
    <section
      ref={setNodeRef}
      aria-label={`${STATUS_LABELS[status]} column`}
      data-testid={`column-${status}`}
      className={`flex w-64 shrink-0 flex-col rounded-lg border p-2 xl:w-auto xl:min-w-0 ${
        isOver
          ? "border-indigo-400 bg-indigo-50 dark:bg-indigo-950/40"
          : status === "blocked"
            ? "border-rose-200 bg-rose-50/60 dark:border-rose-900/60 dark:bg-rose-950/20"
            : "border-slate-200 bg-slate-100/70 dark:border-slate-800 dark:bg-slate-900/60"
      }`}
    >
      <h3 className="mb-2 flex items-center justify-between px-1 text-xs font-semibold tracking-wide text-slate-600 uppercase dark:text-slate-300">
        {STATUS_LABELS[status]}
        <span className="rounded-full bg-white px-1.5 text-slate-500 dark:bg-slate-800" data-testid="column-count">
          {tasks.length}
        </span>
      </h3>
      <ul className="flex min-h-16 flex-col gap-2">
        {shown.map((task) => (
          <TaskCard key={task.task_id} task={task} agentsById={agentsById} canMove={canMove} />
        ))}
        {tasks.length > shown.length && (
          <li className="px-1 text-xs text-slate-500">and {tasks.length - shown.length} more</li>
        )}
      </ul>
    </section>
  );
}


// A card lands in the column under the pointer (the dragged card's own rectangle, wide and offset
// from the pointer, often overlaps the next column more); keyboard drags have no pointer.
const dropWherePointed: CollisionDetection = (args) => {
  const pointed = pointerWithin(args);
  return pointed.length > 0 ? pointed : rectIntersection(args);
};

export function Kanban({ tasks }: { tasks: Task[] }) {
  const can = useCan();
  const { byId } = useAgents();
  const { move, pending, refusal, clearRefusal } = useMoveTask();
  const [dragging, setDragging] = useState<Task | null>(null);
  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 5 } }),
    useSensor(KeyboardSensor),
  );
  const columns = useMemo(() => {
    const grouped = new Map<TaskStatus, Task[]>(BOARD_COLUMNS.map((status) => [status, []]));
    for (const task of tasks) grouped.get(pending[task.task_id] ?? task.status)?.push(task);
    return grouped;
  }, [tasks, pending]);

  const onDragStart = (event: DragStartEvent) =>
    setDragging((event.active.data.current as { task: Task } | undefined)?.task ?? null);
  const onDragEnd = (event: DragEndEvent) => {
    setDragging(null);
    const task = (event.active.data.current as { task: Task } | undefined)?.task;
    const target = event.over?.id as TaskStatus | undefined;
    if (task && target && target !== task.status) move({ task, target });
  };

  return (
    <div>
      {refusal && (
        <div
          role="alert"
          data-testid="move-refused"
          className="mb-2 flex items-start gap-2 rounded-md border border-rose-200 bg-rose-50 p-2 text-sm text-rose-800 dark:border-rose-900 dark:bg-rose-950/50 dark:text-rose-200"
        >
          <span className="flex-1">
            Could not move “{refusal.title}” to {STATUS_LABELS[refusal.target]}: {refusal.reason}
          </span>
          <Button size="sm" variant="ghost" aria-label="Dismiss" onClick={clearRefusal}>
            <X className="size-4" aria-hidden />
          </Button>
        </div>
      )}
      <DndContext
        sensors={sensors}
        collisionDetection={dropWherePointed}
        onDragStart={onDragStart}
        onDragEnd={onDragEnd}
        onDragCancel={() => setDragging(null)}
        accessibility={{
          announcements: {
            onDragStart: ({ active }) => `Picked up ${String((active.data.current as { task: Task }).task.title)}.`,
            onDragOver: ({ over }) => (over ? `Over ${STATUS_LABELS[over.id as TaskStatus]}.` : "Not over a column."),
            onDragEnd: ({ over }) => (over ? `Dropped on ${STATUS_LABELS[over.id as TaskStatus]}.` : "Dropped."),
            onDragCancel: () => "Move cancelled.",
          },
        }}
      >
        <div className="flex gap-3 overflow-x-auto pb-2 xl:grid xl:grid-cols-6 xl:overflow-visible" data-testid="kanban">
          {BOARD_COLUMNS.map((status) => (
            <Column
              key={status}
              status={status}
              tasks={columns.get(status) ?? []}
              agentsById={byId}
              canMove={can("tasks:write")}
            />
          ))}
        </div>
        <DragOverlay>
          {dragging && (
            <div className="w-60 rounded-md border border-indigo-300 bg-white p-2.5 shadow-lg dark:bg-slate-800">
              <TaskCardBody task={dragging} agentsById={byId} />
            </div>
          )}
        </DragOverlay>
      </DndContext>
    </div>
  );
}
