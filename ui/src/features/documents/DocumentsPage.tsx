// The document browser: search by text, filter by type, create one.
import { useMutation, useQuery } from "@tanstack/react-query";
import { FileText, Plus, Search } from "lucide-react";
import { type FormEvent, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { documents } from "../../api/documents";
import type { DocumentType } from "../../api/schema.gen";
import { useCan } from "../../auth/useAuth";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Card, PageHeader } from "../../components/Card";
import { Field, Input, Select } from "../../components/Field";
import { Modal } from "../../components/Modal";
import { Empty, errorText, QueryState } from "../../components/States";
import { keys } from "../../lib/keys";
import { relativeTime } from "../../lib/format";

const TYPES: DocumentType[] = ["deliverable", "research", "protocol"];

function NewDocument({ open, onClose }: { open: boolean; onClose: () => void }) {
  const navigate = useNavigate();
  const [title, setTitle] = useState("");
  const [docType, setDocType] = useState<DocumentType>("deliverable");
  const create = useMutation({
    mutationFn: () => documents.create({ title, doc_type: docType, content: `# ${title}\n` }),
    onSuccess: (doc) => navigate(`/documents/${doc.document_id}?edit=1`),
  });
  return (
    <Modal title="New document" open={open} onClose={onClose}>
      <form className="space-y-3" onSubmit={(event) => { event.preventDefault(); create.mutate(); }}>
        <Field label="Title">{(id) => <Input id={id} required value={title} onChange={(e) => setTitle(e.target.value)} />}</Field>
        <Field label="Type">{(id) => <Select id={id} value={docType} onChange={(e) => setDocType(e.target.value as DocumentType)}>{TYPES.map((t) => <option key={t}>{t}</option>)}</Select>}</Field>
        {create.error && <p role="alert" className="text-sm text-rose-600">{errorText(create.error)}</p>}
        <div className="flex justify-end"><Button type="submit" variant="primary" disabled={create.isPending}>Create</Button></div>
      </form>
    </Modal>
  );
}

export default function DocumentsPage() {
  const can = useCan();
  const [params, setParams] = useSearchParams();
  const text = params.get("q") ?? "";
  const docType = (params.get("type") ?? "") as DocumentType | "";
  const [draft, setDraft] = useState(text);
  const [creating, setCreating] = useState(false);
  const query = useQuery({
    queryKey: [...keys.documents, "list", text, docType],
    queryFn: () => documents.list({ text: text || undefined, doc_type: docType || undefined }),
  });
  const search = (event: FormEvent) => {
    event.preventDefault();
    setParams((current) => { const next = new URLSearchParams(current); if (draft) next.set("q", draft); else next.delete("q"); return next; });
  };
  return (
    <>
      <PageHeader title="Documents" subtitle="What the agents wrote, with every version kept."
        actions={can("documents:write") && <Button variant="primary" onClick={() => setCreating(true)}><Plus className="size-4" aria-hidden /> New document</Button>} />
      <form onSubmit={search} className="mb-3 flex flex-wrap items-end gap-2" role="search">
        <div className="min-w-48 flex-1"><Field label="Search">{(id) => <Input id={id} type="search" value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="Words in the title or text" />}</Field></div>
        <div className="w-40">
          <Field label="Type">
            {(id) => (
              <Select id={id} value={docType} onChange={(e) => setParams((current) => { const next = new URLSearchParams(current); if (e.target.value) next.set("type", e.target.value); else next.delete("type"); return next; })}>
                <option value="">all</option>
                {TYPES.map((t) => <option key={t}>{t}</option>)}
              </Select>
            )}
          </Field>
        </div>
        <Button type="submit"><Search className="size-4" aria-hidden /> Search</Button>
      </form>
      <Card>
        <QueryState query={query} loadingLabel="Loading documents">
          {(page) => page.items.length === 0 ? <Empty title={text ? `Nothing matches “${text}”` : "No documents yet"} /> : (
            <ul className="divide-y divide-slate-100 dark:divide-slate-800" aria-label="Documents">
              {page.items.map((doc) => (
                <li key={doc.document_id} className="flex flex-wrap items-center gap-2 px-4 py-2.5 text-sm">
                  <FileText className="size-4 text-slate-400" aria-hidden />
                  <Link to={`/documents/${doc.document_id}`} className="min-w-0 flex-1 font-medium hover:underline">{doc.title}</Link>
                  <Badge>{doc.doc_type}</Badge>
                  <Badge tone="indigo">v{doc.version}</Badge>
                  <span className="text-xs text-slate-500">{relativeTime(doc.updated_at)}</span>
                </li>
              ))}
            </ul>
          )}
        </QueryState>
      </Card>
      <NewDocument open={creating} onClose={() => setCreating(false)} />
    </>
  );
}
