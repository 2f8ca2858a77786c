// The board's tasks, and a move that is shown at once and snaps back if the API refuses it.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { tasks } from "../../api/board";
import { ApiError } from "../../api/client";
import type { Page_Task_, Task, TaskStatus } from "../../api/schema.gen";
import { keys } from "../../lib/keys";

export function useBoardTasks() {
  return useQuery({ queryKey: keys.board, queryFn: () => tasks.list({ limit: 200 }) });
}

export interface Refusal {
  taskId: string;
  title: string;
  target: TaskStatus;
  reason: string;
}

export function useMoveTask() {
  const client = useQueryClient();
  const [pending, setPending] = useState<Record<string, TaskStatus>>({});
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  const mutation = useMutation({
    mutationFn: ({ task, target }: { task: Task; target: TaskStatus }) => tasks.move(task.task_id, target),
    onMutate: ({ task, target }) => {
      setRefusal(null);
      setPending((current) => ({ ...current, [task.task_id]: target }));
    },
    onSuccess: (moved) => {
      client.setQueryData<Page_Task_>(keys.board, (page) =>
        page && { ...page, items: page.items.map((item) => (item.task_id === moved.task_id ? moved : item)) },
      );
    },
    onError: (error, { task, target }) => {
      const reason = error instanceof ApiError ? error.detail : String(error);
      setRefusal({ taskId: task.task_id, title: task.title, target, reason });
    },
    onSettled: (_data, _error, { task }) => {
      setPending(({ [task.task_id]: _done, ...rest }) => rest);
      void client.invalidateQueries({ queryKey: keys.tasks });
    },
  });
  return { move: mutation.mutate, pending, refusal, clearRefusal: () => setRefusal(null) };
}
