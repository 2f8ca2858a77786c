// Narrow the board down: words in the title, an agent, goals only.
import type { Agent, Task } from "../../api/schema.gen";
import { Input, Select } from "../../components/Field";

export interface BoardFilterValue {
  text: string;
  agentId: string;
}

export function filterTasks(tasks: Task[], filter: BoardFilterValue): Task[] {
  const words = filter.text.toLowerCase().split(/\s+/).filter(Boolean);
  return tasks.filter(
    (task) =>
      (!filter.agentId || task.assignee_ids.includes(filter.agentId)) &&
      words.every((word) => task.title.toLowerCase().includes(word)),
  );
}

export function BoardFilter({
  value,
  onChange,
  agents,
}: {
  value: BoardFilterValue;
  onChange: (value: BoardFilterValue) => void;
  agents: Agent[];
}) {
  return (
    <div className="flex flex-wrap gap-2" role="search" aria-label="Filter the board">
      <Input
        type="search"
        aria-label="Filter tasks by title"
        placeholder="Filter by title"
        className="w-44"
        value={value.text}
        onChange={(event) => onChange({ ...value, text: event.target.value })}
      />
      <Select aria-label="Filter by agent" className="w-36" value={value.agentId} onChange={(event) => onChange({ ...value, agentId: event.target.value })}>
        <option value="">All agents</option>
        {agents.map((agent) => (
          <option key={agent.agent_id} value={agent.agent_id}>@{agent.name}</option>
        ))}
      </Select>
    </div>
  );
}
