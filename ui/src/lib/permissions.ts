// What each role may do: mirrors src/missionctl/permissions.py so the dashboard never offers
// what the API would refuse (the API checks anyway).
import type { Role } from "../api/schema.gen";

export type Permission =
  | "board:read"
  | "tasks:write"
  | "messages:write"
  | "documents:write"
  | "notifications:write"
  | "working_md:write"
  | "agents:write"
  | "api_keys:manage"
  | "users:manage"
  | "audit:read"
  | "models:read"
  | "models:manage"
  | "budgets:manage"
  | "questions:answer"
  | "workflows:read"
  | "workflows:write"
  | "workflows:run";

const WORKERS: Role[] = ["admin", "developer", "operator", "agent"];
const PEOPLE: Role[] = ["admin", "developer", "operator", "viewer"];
const BUILDERS: Role[] = ["admin", "developer"];

const TABLE: Record<Permission, Role[]> = {
  "board:read": ["admin", "developer", "operator", "viewer", "agent"],
  "tasks:write": WORKERS,
  "messages:write": WORKERS,
  "documents:write": WORKERS,
  "notifications:write": WORKERS,
  "working_md:write": WORKERS,
  "agents:write": BUILDERS,
  "api_keys:manage": ["admin"],
  "users:manage": ["admin"],
  "audit:read": ["admin"],
  "models:read": PEOPLE,
  "models:manage": BUILDERS,
  "budgets:manage": BUILDERS,
  "questions:answer": ["admin", "developer", "operator"],
  "workflows:read": PEOPLE,
  "workflows:write": BUILDERS,
  "workflows:run": ["admin", "developer", "operator"],
};

export function allowed(role: Role | undefined, permission: Permission): boolean {
  return role !== undefined && TABLE[permission].includes(role);
}
