import { describe, expect, it } from "vitest";
import type { WorkflowGraph } from "../../api/workflows";
import { drawing, faultsByNode, layers, layout, nodeOfLocation, nodeStatuses } from "./graph";

const fault = (location: string, message = "bad") => ({ location, message, line: 1, column: 1 });

// content-review: draft → review → decide, which branches to publish or revise.
const review: WorkflowGraph = {
  nodes: ["draft", "review", "decide", "publish", "revise"].map((id) => ({ id, type: "llm", needs: [], description: "" })),
  edges: [
    { source: "draft", target: "review", kind: "needs" },
    { source: "review", target: "decide", kind: "needs" },
    { source: "decide", target: "publish", kind: "branch" },
    { source: "decide", target: "revise", kind: "branch" },
  ],
  order: ["draft", "review", "decide", "publish", "revise"],
};

describe("fault locations", () => {
  it("point at the node named after `nodes.`, whatever follows", () => {
    expect(nodeOfLocation("nodes.review.message")).toBe("review");
    expect(nodeOfLocation("nodes.b.needs[1]")).toBe("b");
    expect(nodeOfLocation("nodes.map-1.node.prompt")).toBe("map-1");
    expect(nodeOfLocation("nodes.solo")).toBe("solo");
    expect(nodeOfLocation("inputs.topic.type")).toBeNull();
    expect(nodeOfLocation("")).toBeNull();
    expect(nodeOfLocation("outputs.nodes.x")).toBeNull();
  });

  it("are grouped by node, leaving out the rest", () => {
    const byNode = faultsByNode([fault("nodes.a.prompt", "one"), fault("name"), fault("nodes.a.needs[0]", "two"), fault("nodes.b")]);
    expect([...byNode.keys()]).toEqual(["a", "b"]);
    expect(byNode.get("a")!.map((f) => f.message)).toEqual(["one", "two"]);
  });
});

describe("layout", () => {
  it("puts each node one layer after its latest predecessor, left to right", () => {
    expect(Object.fromEntries(layers(review))).toEqual({ draft: 0, review: 1, decide: 2, publish: 3, revise: 3 });
    const at = layout(review);
    expect(at.get("draft")!.x).toBeLessThan(at.get("review")!.x);
    expect(at.get("publish")!.x).toBe(at.get("revise")!.x);
    // Two nodes in a layer sit either side of the middle, in run order.
    expect(at.get("publish")!.y).toBe(-at.get("revise")!.y);
    expect(at.get("publish")!.y).toBeLessThan(at.get("revise")!.y);
  });

  it("places a parallel node's members after its needs and before it (the join)", () => {
    const graph: WorkflowGraph = {
      nodes: ["start", "fan", "a", "b", "after"].map((id) => ({ id, type: "tool", needs: [], description: "" })),
      edges: [
        { source: "start", target: "fan", kind: "needs" },
        { source: "a", target: "fan", kind: "join" },
        { source: "b", target: "fan", kind: "join" },
        { source: "fan", target: "after", kind: "needs" },
      ],
      order: ["start", "a", "b", "fan", "after"],
    };
    expect(Object.fromEntries(layers(graph))).toEqual({ start: 0, a: 1, b: 1, fan: 2, after: 3 });
  });

  it("survives a cycle (a graph from a broken definition) without looping", () => {
    const graph: WorkflowGraph = {
      nodes: [{ id: "x", type: "llm", needs: ["y"], description: "" }, { id: "y", type: "llm", needs: ["x"], description: "" }],
      edges: [{ source: "y", target: "x", kind: "needs" }, { source: "x", target: "y", kind: "needs" }],
      order: [],
    };
    expect(layout(graph).size).toBe(2);
  });
});

describe("drawing", () => {
  it("marks the nodes faults point at, and adds those the last good graph lacks", () => {
    const { nodes, edges } = drawing(review, { faults: [fault("nodes.review.message", "empty"), fault("nodes.extra.type", "unknown type")] });
    const byId = Object.fromEntries(nodes.map((node) => [node.id, node]));
    expect(byId.review!.faults).toEqual(["empty"]);
    expect(byId.draft!.faults).toEqual([]);
    expect(byId.extra).toMatchObject({ isOrphan: true, faults: ["unknown type"] });
    // The orphan gets a column of its own, after the rest.
    expect(byId.extra!.position.x).toBeGreaterThan(byId.publish!.position.x);
    expect(edges.map((edge) => edge.id)).toContain("branch:decide->publish");
  });

  it("colours a run's nodes by their steps, a map by its least finished item", () => {
    const statuses = nodeStatuses([
      { node_id: "draft", status: "succeeded" },
      { node_id: "research", status: "succeeded" },
      { node_id: "research", status: "running" },
      { node_id: "research", status: "succeeded" },
      { node_id: "check", status: "skipped" },
      { node_id: "check", status: "failed" },
    ]);
    expect(Object.fromEntries(statuses)).toEqual({ draft: "succeeded", research: "running", check: "failed" });
    const { nodes } = drawing(review, { statuses: new Map([["draft", "succeeded"]]) });
    expect(nodes.find((node) => node.id === "draft")!.status).toBe("succeeded");
    expect(nodes.find((node) => node.id === "review")!.status).toBeNull();
  });
});
