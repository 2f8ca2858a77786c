// Routes: every page but sign-in needs a session; each page is its own chunk.
import { lazy, Suspense } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router";
import SignIn from "../auth/SignIn";
import { useSession } from "../auth/useAuth";
import { Loading } from "../components/States";
import Layout from "./Layout";

const CommandCenter = lazy(() => import("../features/command/CommandCenter"));
const GoalPage = lazy(() => import("../features/goals/GoalPage"));
const TaskPage = lazy(() => import("../features/tasks/TaskPage"));
const AgentsPage = lazy(() => import("../features/agents/AgentsPage"));
const AgentPage = lazy(() => import("../features/agents/AgentPage"));
const DocumentsPage = lazy(() => import("../features/documents/DocumentsPage"));
const DocumentPage = lazy(() => import("../features/documents/DocumentPage"));
const WorkingMdPage = lazy(() => import("../features/working/WorkingMdPage"));
const NotificationsPage = lazy(() => import("../features/notifications/NotificationsPage"));
const UsagePage = lazy(() => import("../features/usage/UsagePage"));
const AdminPage = lazy(() => import("../features/admin/AdminPage"));
const WorkflowsPage = lazy(() => import("../features/workflows/WorkflowsPage"));
const WorkflowPage = lazy(() => import("../features/workflows/WorkflowPage"));
const NewWorkflowPage = lazy(() => import("../features/workflows/NewWorkflowPage"));
const RunPage = lazy(() => import("../features/workflows/RunPage"));
const DeadLettersPage = lazy(() => import("../features/workflows/DeadLettersPage"));

function RequireSession({ children }: { children: React.ReactNode }) {
  const current = useSession();
  const location = useLocation();
  if (!current)
    return <Navigate to="/signin" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

function NotFound() {
  return <p className="p-6 text-sm">Nothing here. <a className="underline" href="/">Back to the command center</a>.</p>;
}

export function AppRoutes() {
  return (
    <Suspense fallback={<Loading />}>
      <Routes>
        <Route path="/signin" element={<SignIn />} />
        <Route
          element={
            <RequireSession>
              <Layout />
            </RequireSession>
          }
        >
          <Route index element={<CommandCenter />} />
          <Route path="goals/:goalId" element={<GoalPage />} />
          <Route path="tasks/:taskId" element={<TaskPage />} />
          <Route path="agents" element={<AgentsPage />} />
          <Route path="agents/:agentId" element={<AgentPage />} />
          <Route path="documents" element={<DocumentsPage />} />
          <Route path="documents/:documentId" element={<DocumentPage />} />
          <Route path="working" element={<WorkingMdPage />} />
          <Route path="notifications" element={<NotificationsPage />} />
          <Route path="usage" element={<UsagePage />} />
          <Route path="admin" element={<AdminPage />} />
          <Route path="workflows" element={<WorkflowsPage />} />
          <Route path="workflows/:name" element={<WorkflowPage />} />
          <Route path="new-workflow" element={<NewWorkflowPage />} />
          <Route path="workflow-runs/:runId" element={<RunPage />} />
          <Route path="workflow-dead-letters" element={<DeadLettersPage />} />
          <Route path="*" element={<NotFound />} />
        </Route>
      </Routes>
    </Suspense>
  );
}

export default function App() {
  return (
    <BrowserRouter>
      <AppRoutes />
    </BrowserRouter>
  );
}
