// The dashboard's permission table must say what the API's does (src/missionctl/permissions.py):
// otherwise it would offer what the API refuses, or hide what a role may do.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Role } from "../api/schema.gen";
import { allowed, type Permission } from "./permissions";

// Vitest runs in ui/.
const source = readFileSync(`${process.cwd()}/../src/missionctl/permissions.py`, "utf8");
const ALL: Role[] = ["admin", "developer", "operator", "viewer", "agent"];

function roles(expression: string, named: Record<string, Role[]>): Role[] {
  const set = /frozenset\(\{([^}]*)\}\)/.exec(expression);
  if (set) return set[1]!.split(",").map((item) => item.trim().replace(/^R\./, "").toLowerCase() as Role).filter(Boolean);
  if (expression === "frozenset(Role)") return ALL;
  const known = named[expression];
  if (!known) throw new Error(`unknown role set ${expression}`);
  return known;
}

function pythonTable(): Map<string, Role[]> {
  const values = new Map([...source.matchAll(/^\s+(\w+) = "([a-z_:]+)"/gm)].map((m) => [m[1]!, m[2]!]));
  const named: Record<string, Role[]> = {};
  for (const match of source.matchAll(/^(\w+) = (frozenset\([^\n]*\))$/gm)) named[match[1]!] = roles(match[2]!, named);
  const table = new Map<string, Role[]>();
  const body = source.slice(source.indexOf("TABLE: dict"), source.indexOf("}\n", source.indexOf("TABLE: dict")));
  for (const match of body.matchAll(/Permission\.(\w+): ([^\n]+),\n/g)) table.set(values.get(match[1]!)!, roles(match[2]!, named));
  return table;
}

describe("permission table", () => {
  it("matches the API's for every permission the dashboard checks", () => {
    const table = pythonTable();
    expect(table.size).toBeGreaterThan(15);
    const checked: Permission[] = [
      "board:read", "tasks:write", "messages:write", "documents:write", "notifications:write",
      "working_md:write", "agents:write", "api_keys:manage", "users:manage", "audit:read",
      "models:read", "models:manage", "budgets:manage", "questions:answer",
      "workflows:read", "workflows:write", "workflows:run",
    ];
    for (const permission of checked) {
      const expected = table.get(permission) ?? [];
      const ui = Object.fromEntries(ALL.map((role) => [role, allowed(role, permission)]));
      const api = Object.fromEntries(ALL.map((role) => [role, expected.includes(role)]));
      expect({ permission, known: table.has(permission), roles: ui }).toEqual({
        permission,
        known: true,
        roles: api,
      });
    }
  });
});
