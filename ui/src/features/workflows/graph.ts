// Pure: from the API's drawing of a definition (`POST /workflows/validate`) to positioned nodes
// and edges, with the faults and step statuses each node carries. No React, no I/O.
import type { StepStatus } from "../../api/schema.gen";
import type { DefinitionFault, EdgeKind, WorkflowGraph } from "../../api/workflows";

export const NODE_WIDTH = 172;
export const NODE_HEIGHT = 64;
const GAP_X = 64; // between layers (left to right)
const GAP_Y = 28; // between nodes of a layer

/** The node a fault's location points at (`nodes.<id>…`), or null for the rest of the text. */
export function nodeOfLocation(location: string): string | null {
  const match = /^nodes\.([^.[\]]+)/.exec(location);
  return match ? match[1]! : null;
}

/** Faults by the node they point at. */
export function faultsByNode(faults: readonly DefinitionFault[]): Map<string, DefinitionFault[]> {
  const found = new Map<string, DefinitionFault[]>();
  for (const fault of faults) {
    const node = nodeOfLocation(fault.location);
    if (node !== null) found.set(node, [...(found.get(node) ?? []), fault]);
  }
  return found;
}

/** For each node, the nodes that must finish before it (what the layers follow). */
function predecessors(graph: WorkflowGraph): Map<string, Set<string>> {
  const preds = new Map<string, Set<string>>(graph.nodes.map((node) => [node.id, new Set<string>()]));
  const add = (target: string, source: string) => {
    if (source !== target) (preds.get(target) ?? preds.set(target, new Set()).get(target)!).add(source);
  };
  for (const edge of graph.edges) add(edge.target, edge.source);
  // A parallel node's members wait for the parallel node's own needs (it is their join).
  for (const join of graph.edges.filter((edge) => edge.kind === "join")) {
    for (const need of graph.edges.filter((e) => e.kind === "needs" && e.target === join.target))
      add(join.source, need.source);
  }
  return preds;
}

/** Each node's layer: the longest chain of predecessors before it (cycles are cut). */
export function layers(graph: WorkflowGraph): Map<string, number> {
  const preds = predecessors(graph);
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    let result = 0;
    for (const pred of preds.get(id) ?? []) result = Math.max(result, visit(pred) + 1);
    visiting.delete(id);
    depth.set(id, result);
    return result;
  };
  for (const node of graph.nodes) visit(node.id);
  return depth;
}

export interface Point {
  x: number;
  y: number;
}

/**
 * Left-to-right layers; within a layer, nodes sit near the middle of their predecessors
 * (fewer crossings), ties in the definition's run order. `extra` ids (nodes a fault names that
 * the last good drawing does not have) go in a column of their own at the end.
 */
export function layout(graph: WorkflowGraph, extra: readonly string[] = []): Map<string, Point> {
  const depth = layers(graph);
  const preds = predecessors(graph);
  const rank = new Map(graph.order.map((id, index) => [id, index]));
  const columns: string[][] = [];
  for (const node of graph.nodes) (columns[depth.get(node.id) ?? 0] ??= []).push(node.id);
  const unknown = extra.filter((id) => !depth.has(id));
  if (unknown.length) columns.push([...unknown]);
  const slot = new Map<string, number>();
  const positions = new Map<string, Point>();
  columns.forEach((column = [], index) => {
    const centre = (id: string) => {
      const placed = [...(preds.get(id) ?? [])].map((p) => slot.get(p)).filter((s) => s !== undefined);
      return placed.length ? placed.reduce((a, b) => a + b, 0) / placed.length : Number.POSITIVE_INFINITY;
    };
    const sorted = [...column].sort(
      (a, b) => centre(a) - centre(b) || (rank.get(a) ?? 1e9) - (rank.get(b) ?? 1e9) || a.localeCompare(b),
    );
    sorted.forEach((id, position) => {
      const offset = position - (sorted.length - 1) / 2;
      slot.set(id, offset);
      positions.set(id, { x: index * (NODE_WIDTH + GAP_X), y: offset * (NODE_HEIGHT + GAP_Y) });
    });
  });
  return positions;
}

// A type, not an interface: xyflow wants node data assignable to Record<string, unknown>.
export type DrawnNode = {
  id: string;
  position: Point;
  type: string;
  description: string;
  faults: string[];
  status: StepStatus | null;
  /** Not in the last good drawing: only a fault names it. */
  isOrphan: boolean;
};

export interface DrawnEdge {
  id: string;
  source: string;
  target: string;
  kind: EdgeKind;
}

/** Everything to draw: the graph's nodes placed, each with its faults and (in a run) status. */
export function drawing(
  graph: WorkflowGraph,
  { faults = [], statuses }: { faults?: readonly DefinitionFault[]; statuses?: ReadonlyMap<string, StepStatus> } = {},
): { nodes: DrawnNode[]; edges: DrawnEdge[] } {
  const byNode = faultsByNode(faults);
  const known = new Set(graph.nodes.map((node) => node.id));
  const orphans = [...byNode.keys()].filter((id) => !known.has(id));
  const positions = layout(graph, orphans);
  const nodes: DrawnNode[] = [
    ...graph.nodes.map((node) => ({ id: node.id, type: node.type, description: node.description, isOrphan: false })),
    ...orphans.map((id) => ({ id, type: "?", description: "", isOrphan: true })),
  ].map((node) => ({
    ...node,
    position: positions.get(node.id) ?? { x: 0, y: 0 },
    faults: (byNode.get(node.id) ?? []).map((fault) => fault.message),
    status: statuses?.get(node.id) ?? null,
  }));
  const edges = graph.edges.map((edge) => ({ ...edge, id: `${edge.kind}:${edge.source}->${edge.target}` }));
  return { nodes, edges };
}

/**
 * A node's status in a run from its steps: a map node has one step per item, so it is the
 * least finished of them (failed beats running beats waiting beats pending beats done).
 */
export function nodeStatuses(steps: readonly { node_id: string; status: StepStatus }[]): Map<string, StepStatus> {
  const weight: Record<StepStatus, number> = {
    failed: 6, running: 5, waiting: 4, pending: 3, cancelled: 2, succeeded: 1, skipped: 0,
  };
  const found = new Map<string, StepStatus>();
  for (const step of steps) {
    const current = found.get(step.node_id);
    if (current === undefined || weight[step.status] > weight[current]) found.set(step.node_id, step.status);
  }
  return found;
}
