// A person's decision on an approval step that waits: approve or reject, with a comment.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Check, X } from "lucide-react";
import { useState } from "react";
import type { Step } from "../../api/schema.gen";
import { workflowRuns } from "../../api/workflows";
import { Button } from "../../components/Button";
import { Field, Textarea } from "../../components/Field";
import { errorText } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";
import { dateTime } from "../../lib/format";

export function ApprovalCard({ runId, step, canDecide }: { runId: string; step: Step; canDecide: boolean }) {
  const toast = useToast();
  const client = useQueryClient();
  const [comment, setComment] = useState("");
  const decide = useMutation({
    mutationFn: (approved: boolean) => workflowRuns.decide(runId, { node: step.node_id, approved, comment }),
    onSuccess: (_, approved) => {
      toast(approved ? `Approved ${step.node_id}` : `Rejected ${step.node_id}`, "success");
      void client.invalidateQueries({ queryKey: keys.workflowRuns });
    },
  });
  const message = typeof step.details.message === "string" ? step.details.message : `Approve ${step.node_id}?`;
  const fallback = typeof step.details.default === "string" ? step.details.default : null;
  return (
    <section
      aria-label={`Approval ${step.node_id}`}
      data-testid="approval"
      className="space-y-3 rounded-lg border border-violet-300 bg-violet-50 p-4 dark:border-violet-800 dark:bg-violet-950/40"
    >
      <div>
        <h2 className="text-sm font-semibold">Waiting for approval: {step.node_id}</h2>
        <p className="mt-1 text-sm whitespace-pre-wrap">{message}</p>
        {step.wake_at && (
          <p className="mt-1 text-xs text-slate-500">
            {fallback ? `Decided as “${fallback}” ` : "Times out "} at {dateTime(step.wake_at)} if nobody decides.
          </p>
        )}
      </div>
      {canDecide ? (
        <form
          className="space-y-2"
          onSubmit={(event) => {
            event.preventDefault();
            decide.mutate(true);
          }}
        >
          <Field label="Comment">
            {(id) => <Textarea id={id} rows={2} value={comment} onChange={(e) => setComment(e.target.value)} maxLength={5000} placeholder="Why (optional)" />}
          </Field>
          {decide.isError && <p role="alert" className="text-sm text-rose-700 dark:text-rose-300">{errorText(decide.error)}</p>}
          <div className="flex flex-wrap gap-2">
            <Button type="submit" variant="primary" disabled={decide.isPending}><Check className="size-4" aria-hidden /> Approve</Button>
            <Button variant="danger" onClick={() => decide.mutate(false)} disabled={decide.isPending}><X className="size-4" aria-hidden /> Reject</Button>
          </div>
        </form>
      ) : (
        <p className="text-sm text-slate-500">An operator, developer or admin decides.</p>
      )}
    </section>
  );
}
