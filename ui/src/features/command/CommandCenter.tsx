// The command center: agents, quick stats, goals, the board and the live feed on one screen.
import { Plus, X } from "lucide-react";
import { useState } from "react";
import { Link } from "react-router";
import { useCan } from "../../auth/useAuth";
import { Button } from "../../components/Button";
import { Card, CardHeader, PageHeader } from "../../components/Card";
import { Empty, ErrorState, Loading } from "../../components/States";
import { useAgents } from "../agents/useAgents";
import { GoalProgressCard } from "../goals/GoalProgressCard";
import { NewGoalDialog } from "../goals/NewGoalDialog";
import { RecentGoals } from "../goals/RecentGoals";
import { ActivityFeed } from "./ActivityFeed";
import { AgentCards } from "./AgentCards";
import { BoardFilter, type BoardFilterValue, filterTasks } from "./BoardFilter";
import { Kanban } from "./Kanban";
import { QuickStats } from "./QuickStats";
import { useBoardTasks } from "./useBoard";

export default function CommandCenter() {
  const can = useCan();
  const board = useBoardTasks();
  const [creating, setCreating] = useState(false);
  const [goalId, setGoalId] = useState<string | null>(null);
  const [filter, setFilter] = useState<BoardFilterValue>({ text: "", agentId: "" });
  const agents = useAgents();
  const tasks = board.data?.items ?? [];
  return (
    <div className="space-y-4">
      <PageHeader
        title="Command center"
        subtitle="Everything your agents are doing, live."
        actions={
          can("tasks:write") && (
            <Button variant="primary" onClick={() => setCreating(true)}>
              <Plus className="size-4" aria-hidden /> New goal
            </Button>
          )
        }
      />
      <QuickStats tasks={tasks} />
      <AgentCards tasks={tasks} />
      {goalId && (
        <Card>
          <CardHeader
            title="Goal progress"
            actions={
              <>
                <Link to={`/goals/${goalId}`} className="text-xs text-indigo-600 hover:underline dark:text-indigo-300">Open</Link>
                <Button size="sm" variant="ghost" aria-label="Close goal progress" onClick={() => setGoalId(null)}>
                  <X className="size-4" aria-hidden />
                </Button>
              </>
            }
          />
          <div className="p-4"><GoalProgressCard goalId={goalId} /></div>
        </Card>
      )}
      <div className="grid items-start gap-4 lg:grid-cols-2">
        <Card>
          <CardHeader title="Goals" />
          <div className="max-h-72 overflow-y-auto"><RecentGoals onOpen={setGoalId} /></div>
        </Card>
        <Card>
          <CardHeader title="Live activity" />
          <div className="max-h-72 overflow-y-auto"><ActivityFeed /></div>
        </Card>
      </div>
      <Card className="min-w-0">
        <CardHeader title="Board" actions={<BoardFilter value={filter} onChange={setFilter} agents={agents.list} />} />
        <div className="p-3">
          {board.isPending ? (
            <Loading label="Loading the board" />
          ) : board.error ? (
            <ErrorState error={board.error} onRetry={() => void board.refetch()} />
          ) : (
            <>
              {tasks.length === 0 && (
                <Empty title="The board is empty">Give the team a goal: the orchestrator plans its tasks here.</Empty>
              )}
              <Kanban tasks={filterTasks(tasks, filter)} />
            </>
          )}
        </div>
      </Card>
      <NewGoalDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(goal) => {
          setCreating(false);
          setGoalId(goal.task_id);
        }}
      />
    </div>
  );
}
