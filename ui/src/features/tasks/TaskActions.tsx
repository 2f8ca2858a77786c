// Change status, reassign, and approve or return work in review.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Check, Undo2 } from "lucide-react";
import { useState } from "react";
import { messages, tasks } from "../../api/board";
import type { Task, TaskStatus } from "../../api/schema.gen";
import { Button } from "../../components/Button";
import { Field, Input, Select } from "../../components/Field";
import { errorText } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";
import { BOARD_COLUMNS, STATUS_LABELS } from "../../lib/format";
import { useAgents } from "../agents/useAgents";

function useTaskMutation(task: Task, fn: () => Promise<unknown>, done: string) {
  const client = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: fn,
    onSuccess: () => {
      toast(done, "success");
      void client.invalidateQueries({ queryKey: keys.tasks });
      void client.invalidateQueries({ queryKey: keys.messages(task.task_id) });
    },
    onError: (error) => toast(errorText(error), "error"),
  });
}

export function ReviewActions({ task }: { task: Task }) {
  const [note, setNote] = useState("");
  const approve = useTaskMutation(task, () => tasks.move(task.task_id, "done", "approved by a person"), "Approved");
  const back = useTaskMutation(task, async () => {
    if (note.trim()) await messages.post(task.task_id, { content: note });
    return tasks.move(task.task_id, "in_progress", note.trim() || "returned by a person");
  }, "Returned for more work");
  return (
    <div className="space-y-2 rounded-md border border-violet-200 bg-violet-50 p-3 dark:border-violet-900 dark:bg-violet-950/30" aria-label="Review">
      <p className="text-sm font-medium">This task is waiting for review.</p>
      <Field label="Comment for the assignee (when returning)">
        {(id) => <Input id={id} value={note} onChange={(e) => setNote(e.target.value)} placeholder="What needs to change?" />}
      </Field>
      <div className="flex flex-wrap gap-2">
        <Button variant="primary" onClick={() => approve.mutate()} disabled={approve.isPending}>
          <Check className="size-4" aria-hidden /> Approve
        </Button>
        <Button onClick={() => back.mutate()} disabled={back.isPending}>
          <Undo2 className="size-4" aria-hidden /> Return
        </Button>
      </div>
    </div>
  );
}

export function StatusControl({ task }: { task: Task }) {
  const [target, setTarget] = useState<TaskStatus>(task.status);
  const [reason, setReason] = useState("");
  const move = useTaskMutation(task, () => tasks.move(task.task_id, target, reason || undefined), `Moved to ${STATUS_LABELS[target]}`);
  return (
    <form
      className="flex flex-wrap items-end gap-2"
      onSubmit={(event) => {
        event.preventDefault();
        move.mutate();
      }}
    >
      <div className="w-40">
        <Field label="Status">
          {(id) => (
            <Select id={id} value={target} onChange={(e) => setTarget(e.target.value as TaskStatus)}>
              {BOARD_COLUMNS.map((status) => <option key={status} value={status}>{STATUS_LABELS[status]}</option>)}
            </Select>
          )}
        </Field>
      </div>
      <div className="min-w-40 flex-1">
        <Field label="Reason (optional)">{(id) => <Input id={id} value={reason} onChange={(e) => setReason(e.target.value)} />}</Field>
      </div>
      <Button type="submit" disabled={target === task.status || move.isPending}>Change status</Button>
      {move.error && <p role="alert" className="w-full text-sm text-rose-600">{errorText(move.error)}</p>}
    </form>
  );
}

export function ReassignControl({ task }: { task: Task }) {
  const { list } = useAgents();
  const [chosen, setChosen] = useState<string[]>(task.assignee_ids);
  const assign = useTaskMutation(task, () => tasks.assign(task.task_id, chosen), "Assignees saved");
  const toggle = (agentId: string) =>
    setChosen((current) => (current.includes(agentId) ? current.filter((id) => id !== agentId) : [...current, agentId]));
  const changed = [...chosen].sort().join() !== [...task.assignee_ids].sort().join();
  return (
    <fieldset className="space-y-2">
      <legend className="text-xs font-medium text-slate-600 dark:text-slate-300">Assignees</legend>
      <div className="flex flex-wrap gap-2">
        {list.map((agent) => (
          <label key={agent.agent_id} className="inline-flex items-center gap-1.5 rounded-md border border-slate-200 px-2 py-1 text-sm dark:border-slate-700">
            <input type="checkbox" checked={chosen.includes(agent.agent_id)} onChange={() => toggle(agent.agent_id)} />
            @{agent.name}
          </label>
        ))}
      </div>
      <Button size="sm" disabled={!changed || assign.isPending} onClick={() => assign.mutate()}>Save assignees</Button>
    </fieldset>
  );
}
