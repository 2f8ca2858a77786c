// Markdown editor with a live preview. Saving names the version it started from: if someone
// saved since, the API refuses (409) and the draft stays here, beside what they saved.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError } from "../../api/client";
import { documents } from "../../api/documents";
import type { Document } from "../../api/schema.gen";
import { Button } from "../../components/Button";
import { Field, Input, Textarea } from "../../components/Field";
import { Markdown } from "../../components/Markdown";
import { errorText } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";

export function DocumentEditor({ doc, onDone }: { doc: Document; onDone: () => void }) {
  const client = useQueryClient();
  const toast = useToast();
  const [title, setTitle] = useState(doc.title);
  const [content, setContent] = useState(doc.content);
  const [base, setBase] = useState(doc.version);
  const [conflict, setConflict] = useState<Document | null>(null);
  const save = useMutation({
    mutationFn: () => documents.save(doc.document_id, { title, content }, base),
    onSuccess: (saved) => {
      setConflict(null);
      client.setQueryData(keys.document(doc.document_id), saved);
      void client.invalidateQueries({ queryKey: keys.documents });
      toast(`Saved as version ${saved.version}`, "success");
      onDone();
    },
    onError: async (error) => {
      if (error instanceof ApiError && (error.code === "version_conflict" || error.status === 409 || error.status === 412))
        setConflict(await documents.get(doc.document_id));
    },
  });
  return (
    <div className="space-y-3">
      {conflict && (
        <div role="alert" className="space-y-2 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950/40 dark:text-amber-100">
          <p>
            Someone saved version {conflict.version} while you were editing version {base}. Your draft is kept below;
            their text is here. Merge what you need, then save again.
          </p>
          <details><summary className="cursor-pointer">Their version {conflict.version}</summary><pre className="mt-2 max-h-64 overflow-auto text-xs whitespace-pre-wrap">{conflict.content}</pre></details>
          <div className="flex gap-2">
            <Button size="sm" onClick={() => { setBase(conflict.version); setConflict(null); }}>Keep my draft on top of v{conflict.version}</Button>
            <Button size="sm" onClick={() => { setContent(conflict.content); setTitle(conflict.title); setBase(conflict.version); setConflict(null); }}>Take theirs</Button>
          </div>
        </div>
      )}
      <Field label="Title">{(id) => <Input id={id} value={title} onChange={(e) => setTitle(e.target.value)} />}</Field>
      <div className="grid gap-3 lg:grid-cols-2">
        <Field label="Markdown">{(id) => <Textarea id={id} rows={20} className="font-mono" value={content} onChange={(e) => setContent(e.target.value)} />}</Field>
        <div>
          <p className="mb-1 text-xs font-medium text-slate-600 dark:text-slate-300">Preview</p>
          <div className="max-h-[30rem] overflow-auto rounded-md border border-slate-200 p-3 dark:border-slate-700" data-testid="preview"><Markdown source={content} /></div>
        </div>
      </div>
      {save.error && !conflict && <p role="alert" className="text-sm text-rose-600">{errorText(save.error)}</p>}
      <div className="flex justify-end gap-2">
        <Button onClick={onDone}>Cancel</Button>
        <Button variant="primary" onClick={() => save.mutate()} disabled={save.isPending || Boolean(conflict)}>Save new version</Button>
      </div>
    </div>
  );
}
