// Sign-in, the caller, notifications, and the admin's people, keys and audit trail.
import { api } from "./client";
import type * as S from "./schema.gen";

export const auth = {
  login: (data: S.LoginRequest) =>
    api<S.TokenPair>("/auth/login", { method: "POST", body: data, anonymous: true }),
  logout: (refreshToken: string) =>
    api<void>("/auth/logout", {
      method: "POST",
      body: { refresh_token: refreshToken },
      anonymous: true,
    }),
  me: (tenant?: string) =>
    api<S.Me>("/auth/me", tenant ? { headers: { "x-tenant": tenant } } : {}),
};

export const notifications = {
  mine: (userId: string) =>
    api<S.Page_Notification_>("/notifications", { query: { user_id: userId, limit: 50 } }),
  unread: (userId: string) =>
    api<S.Page_Notification_>("/notifications", {
      query: { user_id: userId, is_read: false, limit: 100 },
    }),
  markRead: (notificationId: string) =>
    api<S.Notification>(`/notifications/${notificationId}/read`, { method: "PUT" }),
};

export const people = {
  members: () => api<S.Member[]>("/members"),
  setRole: (userId: string, role: S.Role) =>
    api<S.Member>(`/members/${userId}`, { method: "PUT", body: { role } }),
  remove: (userId: string) => api<void>(`/members/${userId}`, { method: "DELETE" }),
  invitations: () => api<S.Invitation[]>("/invitations"),
  invite: (data: S.InvitationCreate) =>
    api<S.InvitationCreated>("/invitations", { method: "POST", body: data }),
  revokeInvitation: (id: string) => api<S.Invitation>(`/invitations/${id}`, { method: "DELETE" }),
};

export const apiKeys = {
  list: () => api<S.ApiKey[]>("/api-keys"),
  create: (data: S.ApiKeyCreate) =>
    api<S.ApiKeyCreated>("/api-keys", { method: "POST", body: data }),
  revoke: (id: string) => api<S.ApiKey>(`/api-keys/${id}`, { method: "DELETE" }),
};

export interface AuditQuery {
  actor_id?: string;
  action?: string;
  since?: string;
  until?: string;
  cursor?: string;
}

export const audit = {
  list: (query: AuditQuery) =>
    api<S.Page_AuditEntry_>("/audit", { query: { ...query, limit: 100 } }),
  verify: () => api<S.ChainReport>("/audit/verify"),
};
