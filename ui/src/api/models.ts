// Model deployments (with their credentials), policies, budgets and usage.
import { api } from "./client";
import type * as S from "./schema.gen";

export const deployments = {
  list: () => api<S.Deployment[]>("/models"),
  create: (data: S.DeploymentCreate) =>
    api<S.Deployment>("/models", { method: "POST", body: data }),
  update: (name: string, data: S.DeploymentUpdate) =>
    api<S.Deployment>(`/models/${encodeURIComponent(name)}`, { method: "PATCH", body: data }),
  remove: (name: string) => api<void>(`/models/${encodeURIComponent(name)}`, { method: "DELETE" }),
  test: (name: string) =>
    api<S.ConnectionTest>(`/models/${encodeURIComponent(name)}/test`, { method: "POST" }),
  policies: () => api<S.Policy[]>("/model-policies"),
};

export interface UsageQuery {
  group_by: S.UsageGroupBy;
  since?: string;
  until?: string;
  agent_id?: string;
  task_id?: string;
}

export const usage = {
  report: (query: UsageQuery) => api<S.UsageReport>("/usage", { query: { ...query } }),
  budgets: () => api<S.Budget[]>("/budgets"),
};
