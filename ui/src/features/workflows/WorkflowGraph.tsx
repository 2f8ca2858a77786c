// A workflow drawn with @xyflow/react: nodes coloured by type (or, in a run, by step status),
// nodes a fault points at outlined red. Read-only: the definition is edited as YAML.
import {
  Background,
  Controls,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  type Edge,
  type Node,
  type NodeChange,
  type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useMemo, useSyncExternalStore } from "react";
import type { StepStatus } from "../../api/schema.gen";
import type { DefinitionFault, WorkflowGraph as Graph } from "../../api/workflows";
import { drawing, type DrawnNode, NODE_HEIGHT, NODE_WIDTH } from "./graph";
import { STEP_STATUS_TONES } from "./StatusBadges";

const TYPE_TONES: Record<string, string> = {
  llm: "border-violet-400 bg-violet-50 dark:border-violet-500 dark:bg-violet-950",
  agent: "border-indigo-400 bg-indigo-50 dark:border-indigo-500 dark:bg-indigo-950",
  tool: "border-sky-400 bg-sky-50 dark:border-sky-500 dark:bg-sky-950",
  http: "border-cyan-400 bg-cyan-50 dark:border-cyan-500 dark:bg-cyan-950",
  condition: "border-amber-400 bg-amber-50 dark:border-amber-500 dark:bg-amber-950",
  switch: "border-amber-400 bg-amber-50 dark:border-amber-500 dark:bg-amber-950",
  parallel: "border-teal-400 bg-teal-50 dark:border-teal-500 dark:bg-teal-950",
  map: "border-teal-400 bg-teal-50 dark:border-teal-500 dark:bg-teal-950",
  approval: "border-fuchsia-400 bg-fuchsia-50 dark:border-fuchsia-500 dark:bg-fuchsia-950",
  subworkflow: "border-slate-400 bg-slate-50 dark:border-slate-500 dark:bg-slate-800",
  wait: "border-slate-400 bg-slate-50 dark:border-slate-500 dark:bg-slate-800",
  task: "border-emerald-400 bg-emerald-50 dark:border-emerald-500 dark:bg-emerald-950",
};

const STATUS_FILLS: Record<StepStatus, string> = {
  pending: "border-slate-300 bg-white dark:border-slate-600 dark:bg-slate-900",
  running: "border-amber-500 bg-amber-50 dark:bg-amber-950 animate-pulse",
  waiting: "border-violet-500 bg-violet-50 dark:bg-violet-950",
  succeeded: "border-emerald-500 bg-emerald-50 dark:bg-emerald-950",
  failed: "border-rose-600 bg-rose-50 dark:bg-rose-950",
  skipped: "border-dashed border-slate-300 bg-slate-50 text-slate-400 dark:border-slate-600 dark:bg-slate-900",
  cancelled: "border-slate-400 bg-slate-100 dark:bg-slate-800",
};

type StepNode = Node<DrawnNode & { inRun: boolean }, "step">;

function StepNodeView({ data, selected }: NodeProps<StepNode>) {
  const hasFaults = data.faults.length > 0;
  const fill = data.inRun
    ? data.status ? STATUS_FILLS[data.status] : STATUS_FILLS.pending
    : (TYPE_TONES[data.type] ?? TYPE_TONES.wait);
  const fault = hasFaults ? "border-rose-600 ring-2 ring-rose-500 bg-rose-50 dark:bg-rose-950" : "";
  return (
    <div
      data-testid="graph-node"
      data-node-id={data.id}
      data-status={data.status ?? undefined}
      data-has-errors={hasFaults || undefined}
      title={hasFaults ? data.faults.join("\n") : data.description || undefined}
      style={{ width: NODE_WIDTH, height: NODE_HEIGHT }}
      className={`flex flex-col justify-center overflow-hidden rounded-md border-2 px-2 text-left text-slate-900 shadow-sm dark:text-slate-100 ${fill} ${fault} ${selected ? "outline-2 outline-offset-2 outline-indigo-500" : ""}`}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} className="opacity-0!" />
      <span className="truncate text-sm font-semibold">{data.id}</span>
      <span className="flex items-center gap-1 truncate text-[11px] text-slate-500 dark:text-slate-400">
        {data.isOrphan ? "not drawn yet" : data.type}
        {data.inRun && data.status && (
          <span className={`rounded px-1 ${STEP_STATUS_TONES[data.status]}`}>{data.status}</span>
        )}
        {hasFaults && <span className="font-medium text-rose-700 dark:text-rose-300">· {data.faults.length} error{data.faults.length > 1 ? "s" : ""}</span>}
      </span>
      <Handle type="source" position={Position.Right} isConnectable={false} className="opacity-0!" />
    </div>
  );
}

const NODE_TYPES = { step: StepNodeView };

function subscribeToTheme(onChange: () => void) {
  const observer = new MutationObserver(onChange);
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });
  return () => observer.disconnect();
}

/** Whether the page is in dark mode (the class on <html>, see lib/theme.ts). */
function useIsDark(): boolean {
  return useSyncExternalStore(
    subscribeToTheme,
    () => document.documentElement.classList.contains("dark"),
    () => false,
  );
}

export default function WorkflowGraph({
  graph,
  faults,
  statuses,
  selected,
  onSelect,
  label,
  className = "h-[420px]",
}: {
  graph: Graph;
  faults?: readonly DefinitionFault[];
  statuses?: ReadonlyMap<string, StepStatus>;
  selected?: string | null;
  onSelect?: (nodeId: string) => void;
  label: string;
  className?: string;
}) {
  const isDark = useIsDark();
  const drawn = useMemo(() => drawing(graph, { faults, statuses }), [graph, faults, statuses]);
  const nodes = useMemo<StepNode[]>(
    () =>
      drawn.nodes.map((node) => ({
        id: node.id,
        type: "step",
        position: node.position,
        data: { ...node, inRun: statuses !== undefined },
        selected: node.id === selected,
        selectable: onSelect !== undefined,
        ariaLabel: `${node.id}: ${node.type}${node.status ? `, ${node.status}` : ""}${node.faults.length ? `, errors: ${node.faults.join("; ")}` : ""}`,
      })),
    [drawn, selected, statuses, onSelect],
  );
  const edges = useMemo<Edge[]>(
    () =>
      drawn.edges.map((edge) => ({
        id: edge.id,
        source: edge.source,
        target: edge.target,
        type: "smoothstep",
        label: edge.kind === "needs" ? undefined : edge.kind,
        markerEnd: { type: MarkerType.ArrowClosed },
        style: edge.kind === "needs" ? undefined : { strokeDasharray: edge.kind === "branch" ? "6 4" : "2 3" },
      })),
    [drawn],
  );
  // Fit again whenever the set of nodes changes (a node added while editing).
  const shape = drawn.nodes.map((node) => node.id).join(",");
  const onNodesChange = (changes: NodeChange<StepNode>[]) => {
    for (const change of changes) if (change.type === "select" && change.selected) onSelect?.(change.id);
  };
  const legend = statuses
    ? [...new Set(drawn.nodes.map((node) => node.status ?? "pending"))].map((status) => ({ key: status, tone: STATUS_FILLS[status] }))
    : [...new Set(drawn.nodes.filter((node) => !node.isOrphan).map((node) => node.type))].map((type) => ({ key: type, tone: TYPE_TONES[type] ?? TYPE_TONES.wait }));
  return (
    <div className="space-y-1">
      <div
        role="group"
        aria-label={label}
        data-testid="workflow-graph"
        className={`overflow-hidden rounded-md border border-slate-200 [--xy-background-color:transparent] dark:border-slate-800 ${className}`}
      >
        <ReactFlow
          key={shape}
          nodes={nodes}
          edges={edges}
          nodeTypes={NODE_TYPES}
          onNodesChange={onNodesChange}
          colorMode={isDark ? "dark" : "light"}
          fitView
          fitViewOptions={{ padding: 0.15, maxZoom: 1.2 }}
          minZoom={0.2}
          nodesDraggable={false}
          nodesConnectable={false}
          edgesFocusable={false}
          zoomOnScroll={false}
          preventScrolling={false}
          panOnScroll={false}
        >
          <Background gap={16} />
          <Controls showInteractive={false} />
        </ReactFlow>
      </div>
      <ul className="flex flex-wrap gap-x-3 gap-y-1 text-xs text-slate-500" aria-label={statuses ? "Step statuses" : "Node types"}>
        {legend.map(({ key, tone }) => (
          <li key={key} className="inline-flex items-center gap-1">
            <span className={`inline-block size-3 rounded-sm border-2 ${tone}`} aria-hidden />
            {key}
          </li>
        ))}
      </ul>
    </div>
  );
}
