// Tasks, goals, threads and agents' questions.
import { api } from "./client";
import type * as S from "./schema.gen";

export interface TaskQuery {
  status?: S.TaskStatus;
  assignee_id?: string;
  is_goal?: boolean;
  parent_task_id?: string;
  text?: string;
  limit?: number;
  cursor?: string;
}

export const tasks = {
  list: (query: TaskQuery = {}) => api<S.Page_Task_>("/tasks", { query: { ...query } }),
  get: (taskId: string) => api<S.Task>(`/tasks/${taskId}`),
  create: (data: S.TaskCreate) => api<S.Task>("/tasks", { method: "POST", body: data }),
  update: (taskId: string, data: S.TaskUpdate) =>
    api<S.Task>(`/tasks/${taskId}`, { method: "PATCH", body: data }),
  move: (taskId: string, status: S.TaskStatus, reason?: string) =>
    api<S.Task>(`/tasks/${taskId}/status`, { method: "POST", body: { status, reason } }),
  assign: (taskId: string, agentIds: string[]) =>
    api<S.Task>(`/tasks/${taskId}/assign`, { method: "POST", body: { agent_ids: agentIds } }),
};

export const goals = {
  list: (limit = 10) => api<S.Page_Task_>("/goals", { query: { limit } }),
  create: (data: S.GoalCreate) => api<S.Task>("/goals", { method: "POST", body: data }),
  progress: (goalId: string) => api<S.GoalProgress>(`/goals/${goalId}`),
};

export const messages = {
  list: (taskId: string) =>
    api<S.Page_Message_>(`/tasks/${taskId}/messages`, { query: { limit: 200 } }),
  post: (taskId: string, data: S.MessageCreate) =>
    api<S.Message>(`/tasks/${taskId}/messages`, { method: "POST", body: data }),
};

export const questions = {
  list: (query: { task_id?: string; status?: S.QuestionStatus } = {}) =>
    api<S.Page_Question_>("/questions", { query: { ...query, limit: 100 } }),
  answer: (questionId: string, answer: string) =>
    api<S.Question>(`/questions/${questionId}/answer`, { method: "POST", body: { answer } }),
};
