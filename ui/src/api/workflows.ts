// Workflows: definitions and versions, runs and approvals, triggers, templates, dead letters.
import { api } from "./client";
import type * as S from "./schema.gen";

/** One fault of a definition: location (`nodes.review.message`; "" for the whole text). */
export type DefinitionFault = S.DefinitionFault;
export type EdgeKind = S.GraphEdge["kind"];
/** What `POST /workflows/validate` gives to draw a valid definition. */
export type WorkflowGraph = S.WorkflowGraph;
export type CheckedDefinition = S.Validation;

const yaml = (content: string) => ({ content, type: "application/yaml" });

/** The faults a refused save carries (422 `invalid_workflow`), if that is what `error` is. */
export function faultsOf(error: unknown): DefinitionFault[] {
  const problem = (error as { problem?: { errors?: unknown } } | null)?.problem;
  return Array.isArray(problem?.errors) ? (problem.errors as DefinitionFault[]) : [];
}

export const workflows = {
  list: () => api<S.Workflow[]>("/workflows"),
  get: (name: string) => api<S.Workflow>(`/workflows/${encodeURIComponent(name)}`),
  remove: (name: string) => api<void>(`/workflows/${encodeURIComponent(name)}`, { method: "DELETE" }),
  /** Save YAML (or JSON) text as the workflow's next version. */
  save: (source: string, note = "") =>
    api<S.WorkflowSaved>("/workflows", { method: "POST", text: yaml(source), query: { note } }),
  validate: (source: string, signal?: AbortSignal) =>
    api<CheckedDefinition>("/workflows/validate", { method: "POST", text: yaml(source), signal }),
  versions: (name: string) => api<S.WorkflowVersion[]>(`/workflows/${encodeURIComponent(name)}/versions`),
  version: (name: string, version: number) =>
    api<S.WorkflowVersion>(`/workflows/${encodeURIComponent(name)}/versions/${version}`),
  diff: (name: string, from: number, to: number) =>
    api<S.VersionDiff>(`/workflows/${encodeURIComponent(name)}/diff`, { query: { from, to } }),
  publish: (name: string, version: number) =>
    api<S.Workflow>(`/workflows/${encodeURIComponent(name)}/publish`, { method: "POST", body: { version } }),
  tag: (name: string, version: number, tag: string) =>
    api<S.Workflow>(`/workflows/${encodeURIComponent(name)}/tags`, { method: "POST", body: { version, tag } }),
  rollback: (name: string, version: number) =>
    api<S.WorkflowSaved>(`/workflows/${encodeURIComponent(name)}/rollback`, { method: "POST", body: { version } }),
  start: (name: string, data: S.RunCreate) =>
    api<S.WorkflowRun>(`/workflows/${encodeURIComponent(name)}/runs`, { method: "POST", body: data }),
};

export const workflowRuns = {
  list: (query: { workflow?: string; status?: S.RunStatus; limit?: number; cursor?: string | null } = {}) =>
    api<S.Page_WorkflowRun_>("/workflow-runs", { query: { limit: 50, ...query } }),
  get: (runId: string) => api<S.WorkflowRun>(`/workflow-runs/${runId}`),
  decide: (runId: string, data: S.ApprovalDecision) =>
    api<S.WorkflowRun>(`/workflow-runs/${runId}/approvals`, { method: "POST", body: data }),
  cancel: (runId: string) => api<S.WorkflowRun>(`/workflow-runs/${runId}/cancel`, { method: "POST" }),
  pause: (runId: string) => api<S.WorkflowRun>(`/workflow-runs/${runId}/pause`, { method: "POST" }),
  resume: (runId: string, version?: number) =>
    api<S.WorkflowRun>(`/workflow-runs/${runId}/resume`, {
      method: "POST",
      body: version === undefined ? {} : { version },
    }),
  deadLetters: () => api<S.WorkflowRun[]>("/workflow-dead-letters"),
};

export const workflowTriggers = {
  list: (name: string) => api<S.Trigger[]>(`/workflows/${encodeURIComponent(name)}/triggers`),
  create: (name: string, data: S.TriggerCreate) =>
    api<S.Trigger>(`/workflows/${encodeURIComponent(name)}/triggers`, { method: "POST", body: data }),
  remove: (triggerId: string) => api<void>(`/workflow-triggers/${triggerId}`, { method: "DELETE" }),
  /** Fire by hand; null when its overlap policy started nothing. */
  fire: (triggerId: string) =>
    api<S.WorkflowRun | null>(`/workflow-triggers/${triggerId}/fire`, { method: "POST" }),
};

export const workflowTemplates = {
  list: () => api<S.WorkflowTemplate[]>("/workflow-templates"),
  instantiate: (template: string, data: S.TemplateInstantiate) =>
    api<S.WorkflowSaved>(`/workflow-templates/${encodeURIComponent(template)}/instantiate`, {
      method: "POST",
      body: data,
    }),
};
