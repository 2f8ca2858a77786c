// One workflow: its graph, its definition (edit as YAML), versions, runs and triggers.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ArrowLeft, Trash2 } from "lucide-react";
import { useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import type { Workflow, WorkflowVersion } from "../../api/schema.gen";
import { workflows } from "../../api/workflows";
import { useCan } from "../../auth/useAuth";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Card, CardHeader } from "../../components/Card";
import { Modal } from "../../components/Modal";
import { ErrorState, errorText, Loading, QueryState } from "../../components/States";
import { Tabs } from "../../components/Tabs";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";
import { relativeTime } from "../../lib/format";
import { DefinitionEditor } from "./DefinitionEditor";
import { RunList } from "./RunList";
import { StartRunForm } from "./StartRunForm";
import { TriggersPanel } from "./TriggersPanel";
import { useCheckedDefinition } from "./useWorkflowGraph";
import { VersionsPanel } from "./VersionsPanel";
import WorkflowGraph from "./WorkflowGraph";

const TABS = [
  { id: "graph", label: "Graph" },
  { id: "definition", label: "Definition" },
  { id: "versions", label: "Versions" },
  { id: "runs", label: "Runs" },
  { id: "triggers", label: "Triggers" },
] as const;
type Tab = (typeof TABS)[number]["id"];

function GraphTab({ version }: { version: WorkflowVersion }) {
  const checked = useCheckedDefinition(version.source);
  if (checked.isPending) return <Loading label="Drawing" />;
  if (checked.error) return <ErrorState error={checked.error} onRetry={() => void checked.refetch()} />;
  if (!checked.data.graph)
    return <ErrorState error={new Error(`v${version.version} no longer checks: ${checked.data.errors.map((e) => e.message).join("; ")}`)} />;
  return (
    <div className="space-y-2">
      <p className="text-sm text-slate-500">
        v{version.version}, {checked.data.graph.nodes.length} nodes. Solid arrows: needs; dashed: a branch taken on a condition; dotted: a parallel node&apos;s members joining it.
      </p>
      <WorkflowGraph graph={checked.data.graph} label={`Graph of ${version.name} v${version.version}`} className="h-[60vh] min-h-[320px]" />
    </div>
  );
}

function DeleteWorkflow({ name }: { name: string }) {
  const [open, setOpen] = useState(false);
  const navigate = useNavigate();
  const toast = useToast();
  const client = useQueryClient();
  const remove = useMutation({
    mutationFn: () => workflows.remove(name),
    onSuccess: () => {
      toast(`Deleted ${name}`, "success");
      void client.invalidateQueries({ queryKey: keys.workflows });
      navigate("/workflows");
    },
    onError: (error) => toast(errorText(error), "error"),
  });
  return (
    <>
      <Button variant="ghost" onClick={() => setOpen(true)}><Trash2 className="size-4" aria-hidden /> Delete</Button>
      <Modal title={`Delete ${name}?`} open={open} onClose={() => setOpen(false)}>
        <p className="mb-4 text-sm">Its versions and triggers go with it. Runs already made stay in the history.</p>
        <div className="flex justify-end gap-2">
          <Button onClick={() => setOpen(false)}>Keep it</Button>
          <Button variant="danger" onClick={() => remove.mutate()} disabled={remove.isPending}>Delete workflow</Button>
        </div>
      </Modal>
    </>
  );
}

function WorkflowView({ workflow, versions }: { workflow: Workflow; versions: WorkflowVersion[] }) {
  const can = useCan();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const tab: Tab = TABS.some((t) => t.id === params.get("tab")) ? (params.get("tab") as Tab) : "graph";
  const latest = versions.find((v) => v.version === workflow.latest_version) ?? versions[0];
  return (
    <div className="space-y-4">
      <Link to="/workflows" className="inline-flex items-center gap-1 text-sm text-slate-500 hover:underline"><ArrowLeft className="size-4" aria-hidden /> Workflows</Link>
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="text-xl font-semibold break-all">{workflow.name}</h1>
        <Badge tone="indigo">v{workflow.latest_version}</Badge>
        {workflow.published_version ? <Badge tone="green">published v{workflow.published_version}</Badge> : <Badge>not published: runs use the newest</Badge>}
        {Object.entries(workflow.tags).map(([tag, version]) => <Badge key={tag}>{tag} → v{version}</Badge>)}
        <span className="text-xs text-slate-500">updated {relativeTime(workflow.updated_at)}</span>
        {can("workflows:write") && <span className="ml-auto"><DeleteWorkflow name={workflow.name} /></span>}
      </div>
      {workflow.description && <p className="text-sm text-slate-600 dark:text-slate-300">{workflow.description}</p>}
      <Tabs label="Workflow" value={tab} onChange={(next) => setParams({ tab: next }, { replace: true })} tabs={[...TABS]} />
      {!latest ? (
        <ErrorState error={new Error("This workflow has no versions.")} />
      ) : (
        <>
          {tab === "graph" && <Card className="p-4"><GraphTab version={latest} /></Card>}
          {tab === "definition" && (
            <Card className="p-4">
              <DefinitionEditor
                key={workflow.name}
                initial={latest.source}
                newest={{ version: latest.version, source: latest.source }}
                canSave={can("workflows:write")}
                onSaved={(saved) => { if (saved.name !== workflow.name) navigate(`/workflows/${saved.name}?tab=definition`); }}
              />
            </Card>
          )}
          {tab === "versions" && <Card className="p-4"><VersionsPanel workflow={workflow} versions={versions} /></Card>}
          {tab === "runs" && (
            <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_22rem]">
              <Card><CardHeader title="Runs" /><RunList workflow={workflow.name} /></Card>
              {can("workflows:run") && <Card><CardHeader title="Start a run" /><div className="p-4"><StartRunForm workflow={workflow} versions={versions} /></div></Card>}
            </div>
          )}
          {tab === "triggers" && <Card className="p-4"><TriggersPanel workflow={workflow.name} /></Card>}
        </>
      )}
    </div>
  );
}

export default function WorkflowPage() {
  const { name = "" } = useParams();
  const workflow = useQuery({ queryKey: keys.workflow(name), queryFn: () => workflows.get(name) });
  const versions = useQuery({ queryKey: keys.workflowVersions(name), queryFn: () => workflows.versions(name) });
  return (
    <QueryState query={workflow}>
      {(data) => <QueryState query={versions} loadingLabel="Loading versions">{(list) => <WorkflowView workflow={data} versions={list} />}</QueryState>}
    </QueryState>
  );
}
