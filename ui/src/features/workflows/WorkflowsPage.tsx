// Every workflow: versions, its last runs; new ones from a template or from scratch.
import { useQuery } from "@tanstack/react-query";
import { FilePlus2, LayoutTemplate, Skull } from "lucide-react";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import type { Workflow } from "../../api/schema.gen";
import { workflowRuns, workflows } from "../../api/workflows";
import { useCan } from "../../auth/useAuth";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Card, CardHeader, PageHeader } from "../../components/Card";
import { Modal } from "../../components/Modal";
import { Empty, ErrorState, Loading } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";
import { relativeTime, shortId } from "../../lib/format";
import { RunList } from "./RunList";
import { RUN_TONES } from "./StatusBadges";
import { TemplateForm } from "./TemplateForm";

const DOT: Record<string, string> = {
  slate: "bg-slate-400", blue: "bg-sky-500", amber: "bg-amber-500", violet: "bg-violet-500",
  green: "bg-emerald-500", red: "bg-rose-600", indigo: "bg-indigo-500",
};

function LastRuns({ workflow }: { workflow: string }) {
  const runs = useQuery({ queryKey: [...keys.workflowRunList(workflow), "last"], queryFn: () => workflowRuns.list({ workflow, limit: 5 }) });
  if (!runs.data) return <span className="text-xs text-slate-400">…</span>;
  if (runs.data.items.length === 0) return <span className="text-xs text-slate-500">none yet</span>;
  return (
    <ul className="flex items-center gap-1" aria-label={`Last runs of ${workflow}`}>
      {runs.data.items.map((run) => (
        <li key={run.run_id}>
          <Link
            to={`/workflow-runs/${run.run_id}`}
            title={`${shortId(run.run_id)}: ${run.status}, ${relativeTime(run.created_at)}`}
            aria-label={`Run ${shortId(run.run_id)}: ${run.status}`}
            className={`block size-3 rounded-full ${DOT[RUN_TONES[run.status]]} focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500`}
          />
        </li>
      ))}
    </ul>
  );
}

function WorkflowTable({ list }: { list: Workflow[] }) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-sm">
        <thead className="text-left text-xs text-slate-500">
          <tr>
            <th className="px-4 py-2">Name</th>
            <th className="hidden px-4 py-2 md:table-cell">Description</th>
            <th className="px-4 py-2">Version</th>
            <th className="px-4 py-2">Last runs</th>
            <th className="hidden px-4 py-2 sm:table-cell">Updated</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
          {list.map((workflow) => (
            <tr key={workflow.workflow_id} data-testid="workflow-row">
              <td className="px-4 py-2 font-medium"><Link to={`/workflows/${workflow.name}`} className="hover:underline">{workflow.name}</Link></td>
              <td className="hidden max-w-md truncate px-4 py-2 text-slate-600 md:table-cell dark:text-slate-300">{workflow.description || "—"}</td>
              <td className="px-4 py-2 whitespace-nowrap">
                v{workflow.latest_version}{" "}
                {workflow.published_version !== null && <Badge tone="green">published v{workflow.published_version}</Badge>}
              </td>
              <td className="px-4 py-2"><LastRuns workflow={workflow.name} /></td>
              <td className="hidden px-4 py-2 whitespace-nowrap sm:table-cell">{relativeTime(workflow.updated_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default function WorkflowsPage() {
  const can = useCan();
  const toast = useToast();
  const navigate = useNavigate();
  const [fromTemplate, setFromTemplate] = useState(false);
  const list = useQuery({ queryKey: keys.workflows, queryFn: workflows.list });
  const failed = useQuery({ queryKey: keys.deadLetters, queryFn: workflowRuns.deadLetters });
  return (
    <>
      <PageHeader
        title="Workflows"
        subtitle="Steps that run in order, in parallel or on a person's approval, kept as versions."
        actions={
          <>
            <Link to="/workflow-dead-letters" className="inline-flex items-center gap-1.5 rounded-md px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-200 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-slate-200 dark:hover:bg-slate-800">
              <Skull className="size-4" aria-hidden /> Dead letters
              {failed.data && failed.data.length > 0 && <Badge tone="red">{failed.data.length}</Badge>}
            </Link>
            {can("workflows:write") && (
              <>
                <Button onClick={() => setFromTemplate(true)}><LayoutTemplate className="size-4" aria-hidden /> New from template</Button>
                <Button variant="primary" onClick={() => navigate("/new-workflow")}><FilePlus2 className="size-4" aria-hidden /> New</Button>
              </>
            )}
          </>
        }
      />
      <div className="space-y-4">
        <Card>
          {list.isPending ? <Loading /> : list.error ? <ErrorState error={list.error} onRetry={() => void list.refetch()} /> : list.data.length === 0 ? (
            <Empty title="No workflows yet">{can("workflows:write") && <p>Start from a template, or write one in YAML.</p>}</Empty>
          ) : (
            <WorkflowTable list={list.data} />
          )}
        </Card>
        <Card>
          <CardHeader title="Recent runs" />
          <RunList />
        </Card>
      </div>
      <Modal title="New workflow from a template" open={fromTemplate} onClose={() => setFromTemplate(false)} wide>
        <TemplateForm
          onDone={(saved) => {
            setFromTemplate(false);
            toast(saved.is_new_version ? `Created ${saved.name} v${saved.version}` : `${saved.name} v${saved.version} is already that`, "success");
            navigate(`/workflows/${saved.name}`);
          }}
        />
      </Modal>
    </>
  );
}
