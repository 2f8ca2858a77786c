// Give Mission Control a goal in one step: the first line is its title.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { goals } from "../../api/board";
import type { Task, TaskPriority } from "../../api/schema.gen";
import { Button } from "../../components/Button";
import { Field, Select, Textarea } from "../../components/Field";
import { Modal } from "../../components/Modal";
import { errorText } from "../../components/States";
import { keys } from "../../lib/keys";

export function NewGoalDialog({
  open,
  onClose,
  onCreated,
}: {
  open: boolean;
  onClose: () => void;
  onCreated: (goal: Task) => void;
}) {
  const client = useQueryClient();
  const [text, setText] = useState("");
  const [priority, setPriority] = useState<TaskPriority>("normal");
  const create = useMutation({
    mutationFn: () => goals.create({ text, priority }),
    onSuccess: (goal) => {
      void client.invalidateQueries({ queryKey: keys.goals });
      void client.invalidateQueries({ queryKey: keys.tasks });
      setText("");
      onCreated(goal);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim()) create.mutate();
  };
  return (
    <Modal title="New goal" open={open} onClose={onClose}>
      <form onSubmit={submit} className="space-y-3">
        <Field label="What should the team achieve?" hint="The first line becomes the title; add detail below it.">
          {(id) => (
            <Textarea id={id} rows={5} required autoFocus value={text} onChange={(e) => setText(e.target.value)} placeholder={"Write a one-page brief on…\nFor a non-technical reader."} />
          )}
        </Field>
        <Field label="Priority">
          {(id) => (
            <Select id={id} value={priority} onChange={(e) => setPriority(e.target.value as TaskPriority)}>
              {["low", "normal", "high", "urgent"].map((value) => <option key={value}>{value}</option>)}
            </Select>
          )}
        </Field>
        {create.error && <p role="alert" className="text-sm text-rose-600">{errorText(create.error)}</p>}
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" disabled={create.isPending || !text.trim()}>
            {create.isPending ? "Starting…" : "Start goal"}
          </Button>
        </div>
      </form>
    </Modal>
  );
}
