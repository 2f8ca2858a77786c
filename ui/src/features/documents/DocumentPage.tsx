import { useQuery } from "@tanstack/react-query";
import { ArrowLeft, Pencil } from "lucide-react";
import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { documents } from "../../api/documents";
import { useCan } from "../../auth/useAuth";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Card } from "../../components/Card";
import { Markdown } from "../../components/Markdown";
import { QueryState } from "../../components/States";
import { Tabs } from "../../components/Tabs";
import { keys } from "../../lib/keys";
import { dateTime } from "../../lib/format";
import { DocumentEditor } from "./DocumentEditor";
import { DocumentHistory } from "./DocumentHistory";

type Tab = "read" | "edit" | "history";

export default function DocumentPage() {
  const { documentId = "" } = useParams();
  const [params] = useSearchParams();
  const can = useCan();
  const [tab, setTab] = useState<Tab>(params.get("edit") && can("documents:write") ? "edit" : "read");
  const query = useQuery({ queryKey: keys.document(documentId), queryFn: () => documents.get(documentId) });
  const tabs: { id: Tab; label: string }[] = [{ id: "read", label: "Read" }, ...(can("documents:write") ? [{ id: "edit" as const, label: "Edit" }] : []), { id: "history", label: "History" }];
  return (
    <QueryState query={query} loadingLabel="Loading the document">
      {(doc) => (
        <div className="space-y-3">
          <Link to="/documents" className="inline-flex items-center gap-1 text-sm text-slate-500 hover:underline"><ArrowLeft className="size-4" aria-hidden /> Documents</Link>
          <div className="flex flex-wrap items-center gap-2">
            <h1 className="text-xl font-semibold">{doc.title}</h1>
            <Badge>{doc.doc_type}</Badge>
            <Badge tone="indigo">v{doc.version}</Badge>
            <span className="text-xs text-slate-500">updated {dateTime(doc.updated_at)}</span>
            {doc.task_id && <Link to={`/tasks/${doc.task_id}`} className="text-xs text-indigo-600 hover:underline dark:text-indigo-300">its task</Link>}
            {can("documents:write") && tab === "read" && <Button className="ml-auto" onClick={() => setTab("edit")}><Pencil className="size-4" aria-hidden /> Edit</Button>}
          </div>
          <Tabs label="Document" tabs={tabs} value={tab} onChange={setTab} />
          <Card className="p-4">
            {tab === "read" && <Markdown source={doc.content} />}
            {tab === "edit" && <DocumentEditor doc={doc} onDone={() => setTab("read")} />}
            {tab === "history" && <DocumentHistory doc={doc} />}
          </Card>
        </div>
      )}
    </QueryState>
  );
}
