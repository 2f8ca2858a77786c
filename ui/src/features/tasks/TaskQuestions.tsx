// Questions agents asked people about this task, and the form to answer them.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { HelpCircle } from "lucide-react";
import { useState } from "react";
import { questions } from "../../api/board";
import type { Question } from "../../api/schema.gen";
import { useCan } from "../../auth/useAuth";
import { Button } from "../../components/Button";
import { Textarea } from "../../components/Field";
import { errorText } from "../../components/States";
import { keys } from "../../lib/keys";
import { useAgents } from "../agents/useAgents";

function Answer({ question }: { question: Question }) {
  const client = useQueryClient();
  const [answer, setAnswer] = useState("");
  const send = useMutation({
    mutationFn: () => questions.answer(question.question_id, answer),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["questions"] }),
  });
  return (
    <form className="mt-2 space-y-2" onSubmit={(event) => { event.preventDefault(); if (answer.trim()) send.mutate(); }}>
      <Textarea aria-label="Your answer" rows={2} value={answer} onChange={(e) => setAnswer(e.target.value)} />
      {send.error && <p role="alert" className="text-sm text-rose-600">{errorText(send.error)}</p>}
      <Button type="submit" size="sm" variant="primary" disabled={!answer.trim() || send.isPending}>Answer</Button>
    </form>
  );
}

export function TaskQuestions({ taskId }: { taskId: string }) {
  const can = useCan();
  const { byId } = useAgents();
  const query = useQuery({ queryKey: keys.questions(taskId), queryFn: () => questions.list({ task_id: taskId }) });
  const items = query.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <ul className="space-y-2" aria-label="Questions from agents">
      {items.map((question) => (
        <li key={question.question_id} className={`rounded-md border p-3 text-sm ${question.status === "open" ? "border-amber-300 bg-amber-50 dark:border-amber-800 dark:bg-amber-950/30" : "border-slate-200 dark:border-slate-800"}`}>
          <p className="flex items-center gap-1.5 font-medium">
            <HelpCircle className="size-4" aria-hidden /> @{byId.get(question.agent_id)?.name ?? "agent"} asks:
          </p>
          <p className="mt-1 whitespace-pre-wrap">{question.question}</p>
          {question.status === "answered" && <p className="mt-1 text-slate-600 dark:text-slate-300">Answered: {question.answer}</p>}
          {question.status === "open" && can("questions:answer") && <Answer question={question} />}
        </li>
      ))}
    </ul>
  );
}
