// A task's thread: messages with replies, and a composer with @mention autocomplete.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { CornerDownRight, Reply, X } from "lucide-react";
import { useState } from "react";
import { messages } from "../../api/board";
import type { Message } from "../../api/schema.gen";
import { useCan, useMe } from "../../auth/useAuth";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Empty, errorText, QueryState } from "../../components/States";
import { keys } from "../../lib/keys";
import { relativeTime } from "../../lib/format";
import { useAgents } from "../agents/useAgents";
import { MentionInput } from "./MentionInput";

export function Thread({ taskId }: { taskId: string }) {
  const can = useCan();
  const { data: me } = useMe();
  const { byId, list: agentList } = useAgents();
  const client = useQueryClient();
  const thread = useQuery({ queryKey: keys.messages(taskId), queryFn: () => messages.list(taskId) });
  const [draft, setDraft] = useState("");
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const post = useMutation({
    mutationFn: () => messages.post(taskId, { content: draft, reply_to_message_id: replyTo?.message_id ?? null }),
    onSuccess: () => {
      setDraft("");
      setReplyTo(null);
      void client.invalidateQueries({ queryKey: keys.messages(taskId) });
    },
  });
  const author = (message: Message) =>
    message.author_agent_id
      ? `@${byId.get(message.author_agent_id)?.name ?? "agent"}`
      : message.author_user_id === me?.user?.user_id
        ? "You"
        : message.author_kind === "system"
          ? "Mission Control"
          : "A person";
  const names = ["all", ...agentList.map((agent) => agent.name)];
  return (
    <div className="space-y-3">
      <QueryState query={thread} loadingLabel="Loading the thread">
        {(page) => {
          const byMessage = new Map(page.items.map((message) => [message.message_id, message]));
          const ordered = [...page.items].sort((a, b) => a.created_at.localeCompare(b.created_at));
          return ordered.length === 0 ? (
            <Empty title="No messages yet" />
          ) : (
            <ol className="space-y-2" aria-label="Thread">
              {ordered.map((message) => {
                const parent = message.reply_to_message_id ? byMessage.get(message.reply_to_message_id) : undefined;
                return (
                  <li key={message.message_id} data-testid="thread-message" className={`rounded-md border border-slate-200 p-2.5 text-sm dark:border-slate-800 ${message.reply_to_message_id ? "ml-6" : ""}`}>
                    <div className="mb-1 flex flex-wrap items-center gap-2 text-xs text-slate-500">
                      <span className="font-medium text-slate-800 dark:text-slate-200">{author(message)}</span>
                      {message.message_type !== "comment" && <Badge>{message.message_type.replace("_", " ")}</Badge>}
                      <span>{relativeTime(message.created_at)}</span>
                      {can("messages:write") && (
                        <Button size="sm" variant="ghost" className="ml-auto" aria-label={`Reply to ${author(message)}`} onClick={() => setReplyTo(message)}>
                          <Reply className="size-3.5" aria-hidden /> Reply
                        </Button>
                      )}
                    </div>
                    {parent && (
                      <p className="mb-1 flex items-center gap-1 truncate text-xs text-slate-500">
                        <CornerDownRight className="size-3" aria-hidden /> {author(parent)}: {parent.content.slice(0, 80)}
                      </p>
                    )}
                    <p className="break-words whitespace-pre-wrap">{message.content}</p>
                    {message.attachments.length > 0 && (
                      <ul className="mt-1 text-xs">
                        {message.attachments.map((file) => <li key={file.attachment_id}>📎 {file.name}</li>)}
                      </ul>
                    )}
                  </li>
                );
              })}
            </ol>
          );
        }}
      </QueryState>
      {can("messages:write") && (
        <form
          className="space-y-2"
          onSubmit={(event) => {
            event.preventDefault();
            if (draft.trim()) post.mutate();
          }}
        >
          {replyTo && (
            <p className="flex items-center gap-2 text-xs text-slate-500">
              Replying to {author(replyTo)}: “{replyTo.content.slice(0, 60)}”
              <Button size="sm" variant="ghost" aria-label="Cancel reply" onClick={() => setReplyTo(null)}><X className="size-3" aria-hidden /></Button>
            </p>
          )}
          <MentionInput label="Reply" value={draft} onChange={setDraft} names={names} onSubmit={() => draft.trim() && post.mutate()} />
          {post.error && <p role="alert" className="text-sm text-rose-600">{errorText(post.error)}</p>}
          <div className="flex justify-end">
            <Button type="submit" variant="primary" disabled={post.isPending || !draft.trim()}>Send</Button>
          </div>
        </form>
      )}
    </div>
  );
}
