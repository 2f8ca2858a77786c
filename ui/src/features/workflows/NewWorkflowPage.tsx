// A new workflow written from scratch: the editor with a small starting definition.
import { ArrowLeft } from "lucide-react";
import { Link, useNavigate } from "react-router";
import { useCan } from "../../auth/useAuth";
import { Card, PageHeader } from "../../components/Card";
import { DefinitionEditor } from "./DefinitionEditor";

export const STARTER = `name: my-workflow
description: What it is for.
inputs:
  topic: {type: string, required: true, description: What to write about.}
nodes:
  draft:
    type: llm
    model: default
    prompt: "Write a short note about {{ inputs.topic }}"
  review:
    type: approval
    needs: [draft]
    message: "Keep this note on {{ inputs.topic }}?"
outputs:
  note: "{{ nodes.draft.output.text }}"
`;

export default function NewWorkflowPage() {
  const can = useCan();
  const navigate = useNavigate();
  return (
    <>
      <Link to="/workflows" className="mb-2 inline-flex items-center gap-1 text-sm text-slate-500 hover:underline"><ArrowLeft className="size-4" aria-hidden /> Workflows</Link>
      <PageHeader title="New workflow" subtitle="Write the definition in YAML (see docs/workflows.md); it is checked as you type. Saving makes version 1." />
      <Card className="p-4">
        <DefinitionEditor initial={STARTER} canSave={can("workflows:write")} onSaved={(saved) => navigate(`/workflows/${saved.name}`)} />
      </Card>
    </>
  );
}
