// React Query keys, one place, so live events can invalidate the right ones.
export const keys = {
  me: (tenant: string | null) => ["me", tenant] as const,
  tasks: ["tasks"] as const,
  board: ["tasks", "board"] as const,
  task: (taskId: string) => ["tasks", "one", taskId] as const,
  subtasks: (taskId: string) => ["tasks", "children", taskId] as const,
  goals: ["goals"] as const,
  goal: (goalId: string) => ["goals", "one", goalId] as const,
  messages: (taskId: string) => ["messages", taskId] as const,
  questions: (taskId?: string) => ["questions", taskId ?? "all"] as const,
  agents: ["agents"] as const,
  agent: (agentId: string) => ["agents", "one", agentId] as const,
  agentVersions: (agentId: string) => ["agents", "versions", agentId] as const,
  activity: ["activity"] as const,
  documents: ["documents"] as const,
  document: (documentId: string) => ["documents", "one", documentId] as const,
  workingMd: ["working-md"] as const,
  notifications: ["notifications"] as const,
  usage: ["usage"] as const,
  stats: ["stats"] as const,
  admin: (part: string) => ["admin", part] as const,
  workflows: ["workflows"] as const,
  workflow: (name: string) => ["workflows", "one", name] as const,
  workflowVersions: (name: string) => ["workflows", "versions", name] as const,
  workflowTriggers: (name: string) => ["workflow-triggers", name] as const,
  workflowTemplates: ["workflow-templates"] as const,
  workflowRuns: ["workflow-runs"] as const,
  workflowRunList: (workflow: string | null) => ["workflow-runs", "list", workflow ?? "all"] as const,
  workflowRun: (runId: string) => ["workflow-runs", "one", runId] as const,
  deadLetters: ["workflow-runs", "dead-letters"] as const,
};

/** Which cached queries an event of this type makes stale. */
export function staleKeysFor(eventType: string): (readonly string[])[] {
  const domain = eventType.split(".")[0] ?? "";
  switch (domain) {
    case "task":
      return [keys.tasks, keys.goals, keys.stats, keys.notifications];
    case "agent":
      // A finished turn has spent tokens: usage and spend move too.
      return [keys.agents, keys.goals, keys.stats, keys.usage, keys.notifications];
    case "message":
      return [["messages"], keys.stats, keys.goals, keys.notifications];
    case "document":
      return [keys.documents, keys.goals, keys.workingMd];
    case "notification":
      return [keys.notifications];
    case "question":
      return [["questions"], keys.goals, keys.notifications];
    case "working_md":
      return [keys.workingMd];
    case "budget":
      return [keys.usage, keys.stats, keys.notifications];
    case "workflow":
      return [keys.workflows];
    case "workflow_run":
      // A run's steps spend tokens, and a trigger counts the runs it started.
      return [keys.workflowRuns, ["workflow-triggers"], keys.usage];
    default:
      return [];
  }
}
