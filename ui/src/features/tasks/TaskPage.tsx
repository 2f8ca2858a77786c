// Everything about one task: what, who, where it stands, its thread, documents and cost.
import { useQuery } from "@tanstack/react-query";
import { ArrowLeft, FileText } from "lucide-react";
import { Link, useParams } from "react-router";
import { activities } from "../../api/agents";
import { tasks } from "../../api/board";
import { documents } from "../../api/documents";
import { usage } from "../../api/models";
import type { Task } from "../../api/schema.gen";
import { useCan } from "../../auth/useAuth";
import { Badge, StatusBadge } from "../../components/Badge";
import { Card, CardHeader } from "../../components/Card";
import { Markdown } from "../../components/Markdown";
import { Empty, QueryState } from "../../components/States";
import { keys } from "../../lib/keys";
import { dateTime, tokens, usd } from "../../lib/format";
import { useAgents } from "../agents/useAgents";
import { EventList } from "../command/ActivityFeed";
import { ReassignControl, ReviewActions, StatusControl } from "./TaskActions";
import { TaskQuestions } from "./TaskQuestions";
import { Thread } from "./Thread";

function TaskLink({ taskId }: { taskId: string }) {
  const query = useQuery({ queryKey: keys.task(taskId), queryFn: () => tasks.get(taskId) });
  return (
    <Link to={`/tasks/${taskId}`} className="inline-flex items-center gap-2 text-sm hover:underline">
      {query.data ? <><StatusBadge status={query.data.status} /> {query.data.title}</> : "…"}
    </Link>
  );
}

function Related({ task }: { task: Task }) {
  const children = useQuery({ queryKey: keys.subtasks(task.task_id), queryFn: () => tasks.list({ parent_task_id: task.task_id, limit: 200 }) });
  const subtasks = children.data?.items ?? [];
  return (
    <div className="space-y-3 p-4 text-sm">
      {task.parent_task_id && (<div><h3 className="mb-1 text-xs font-semibold text-slate-500 uppercase">Part of</h3><TaskLink taskId={task.parent_task_id} /></div>)}
      <div>
        <h3 className="mb-1 text-xs font-semibold text-slate-500 uppercase">Subtasks</h3>
        {subtasks.length === 0 ? <p className="text-slate-500">None</p> : (
          <ul className="space-y-1">{subtasks.map((sub) => <li key={sub.task_id}><Link to={`/tasks/${sub.task_id}`} className="inline-flex items-center gap-2 hover:underline"><StatusBadge status={sub.status} /> {sub.title}</Link></li>)}</ul>
        )}
      </div>
      <div>
        <h3 className="mb-1 text-xs font-semibold text-slate-500 uppercase">Depends on</h3>
        {task.depends_on.length === 0 ? <p className="text-slate-500">Nothing</p> : (
          <ul className="space-y-1">{task.depends_on.map((id) => <li key={id}><TaskLink taskId={id} /></li>)}</ul>
        )}
      </div>
    </div>
  );
}

function Documents({ taskId }: { taskId: string }) {
  const query = useQuery({ queryKey: [...keys.documents, "task", taskId], queryFn: () => documents.list({ task_id: taskId }) });
  return (
    <QueryState query={query}>
      {(page) => page.items.length === 0 ? <Empty title="No documents" /> : (
        <ul className="divide-y divide-slate-100 dark:divide-slate-800">
          {page.items.map((doc) => (
            <li key={doc.document_id} className="flex items-center gap-2 px-4 py-2 text-sm">
              <FileText className="size-4 text-slate-400" aria-hidden />
              <Link to={`/documents/${doc.document_id}`} className="flex-1 hover:underline">{doc.title}</Link>
              <Badge>v{doc.version}</Badge>
            </li>
          ))}
        </ul>
      )}
    </QueryState>
  );
}

function Cost({ taskId }: { taskId: string }) {
  const can = useCan();
  const query = useQuery({ queryKey: [...keys.usage, "task", taskId], queryFn: () => usage.report({ group_by: "task", task_id: taskId }), enabled: can("models:read") });
  if (!can("models:read")) return null;
  const total = query.data?.total;
  return (
    <p className="text-sm" data-testid="task-cost">
      {total ? <>{usd(total.cost_usd)} · {tokens(total.input_tokens + total.output_tokens)} tokens · {total.requests} model calls</> : "…"}
    </p>
  );
}

export default function TaskPage() {
  const { taskId = "" } = useParams();
  const can = useCan();
  const { byId } = useAgents();
  const task = useQuery({ queryKey: keys.task(taskId), queryFn: () => tasks.get(taskId) });
  const activity = useQuery({ queryKey: [...keys.tasks, "activity", taskId], queryFn: () => activities.ofTask(taskId) });
  return (
    <QueryState query={task} loadingLabel="Loading the task">
      {(data) => (
        <div className="space-y-4">
          <Link to="/" className="inline-flex items-center gap-1 text-sm text-slate-500 hover:underline"><ArrowLeft className="size-4" aria-hidden /> Command center</Link>
          <div className="flex flex-wrap items-center gap-2">
            <h1 className="text-xl font-semibold">{data.title}</h1>
            <StatusBadge status={data.status} />
            {data.is_goal && <Badge tone="indigo">goal</Badge>}
            <Badge>{data.priority}</Badge>
          </div>
          {data.status_reason && <p className="text-sm text-slate-500">Reason: {data.status_reason}</p>}
          <div className="grid gap-4 lg:grid-cols-[1fr_22rem]">
            <div className="min-w-0 space-y-4">
              <Card className="p-4">
                {data.description ? <Markdown source={data.description} /> : <p className="text-sm text-slate-500">No description.</p>}
              </Card>
              <TaskQuestions taskId={data.task_id} />
              {data.status === "review" && can("tasks:write") && <ReviewActions key={data.updated_at} task={data} />}
              <Card>
                <CardHeader title="Thread" />
                <div className="p-4"><Thread taskId={data.task_id} /></div>
              </Card>
            </div>
            <div className="space-y-4">
              <Card>
                <CardHeader title="Details" />
                <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 p-4 text-sm">
                  <dt className="text-slate-500">Assignees</dt>
                  <dd>{data.assignee_ids.length ? data.assignee_ids.map((id) => `@${byId.get(id)?.name ?? "agent"}`).join(", ") : "nobody"}</dd>
                  <dt className="text-slate-500">Created</dt><dd>{dateTime(data.created_at)}</dd>
                  <dt className="text-slate-500">Due</dt><dd>{dateTime(data.due_at)}</dd>
                  <dt className="text-slate-500">Done</dt><dd>{dateTime(data.completed_at)}</dd>
                  {can("models:read") && (<><dt className="text-slate-500">Cost</dt><dd><Cost taskId={data.task_id} /></dd></>)}
                </dl>
              </Card>
              {can("tasks:write") && (
                <Card>
                  <CardHeader title="Actions" />
                  <div className="space-y-4 p-4">
                    <StatusControl key={`s-${data.status}`} task={data} />
                    <ReassignControl key={`a-${data.assignee_ids.join()}`} task={data} />
                  </div>
                </Card>
              )}
              <Card><CardHeader title="Subtasks and dependencies" /><Related task={data} /></Card>
              <Card><CardHeader title="Documents" /><Documents taskId={data.task_id} /></Card>
              <Card>
                <CardHeader title="Activity" />
                <div className="max-h-80 overflow-y-auto">
                  <QueryState query={activity}>{(page) => <EventList events={page.items} />}</QueryState>
                </div>
              </Card>
            </div>
          </div>
        </div>
      )}
    </QueryState>
  );
}
