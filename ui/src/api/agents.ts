// Agents, their versions, proposals and activity.
import { api } from "./client";
import type * as S from "./schema.gen";

export const agents = {
  list: () => api<S.Page_Agent_>("/agents", { query: { limit: 200 } }),
  get: (agentId: string) => api<S.Agent>(`/agents/${agentId}`),
  create: (data: S.AgentCreate) => api<S.Agent>("/agents", { method: "POST", body: data }),
  update: (agentId: string, data: S.AgentUpdate) =>
    api<S.Agent>(`/agents/${agentId}`, { method: "PATCH", body: data }),
  versions: (agentId: string) => api<S.AgentVersion[]>(`/agents/${agentId}/versions`),
  diff: (agentId: string, from: number, to: number) =>
    api<S.AgentVersionDiff>(`/agents/${agentId}/diff`, { query: { from, to } }),
  rollback: (agentId: string, version: number) =>
    api<S.Agent>(`/agents/${agentId}/rollback`, { method: "POST", body: { version } }),
};

export const proposals = {
  list: () => api<S.Page_AgentProposal_>("/agent-proposals", { query: { status: "pending" } }),
  approve: (id: string) => api<S.AgentProposal>(`/agent-proposals/${id}/approve`, { method: "POST" }),
  reject: (id: string) => api<S.AgentProposal>(`/agent-proposals/${id}/reject`, { method: "POST" }),
};

export const activities = {
  feed: (limit = 30, eventType?: string) =>
    api<S.Page_Event_>("/activities", { query: { limit, event_type: eventType } }),
  ofAgent: (agentId: string) =>
    api<S.Page_Event_>(`/activities/agent/${agentId}`, { query: { limit: 50 } }),
  ofTask: (taskId: string) =>
    api<S.Page_Event_>(`/activities/task/${taskId}`, { query: { limit: 50 } }),
};
