// WORKING.md: the shared state file, and its notes section that people and agents edit.
// A save names the notes version it started from; a stale save is refused and shown, not lost.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError } from "../../api/client";
import { workingMd } from "../../api/documents";
import type { WorkingMd, WorkingNotesVersion } from "../../api/schema.gen";
import { useCan } from "../../auth/useAuth";
import { Button } from "../../components/Button";
import { Card, CardHeader, PageHeader } from "../../components/Card";
import { DiffView } from "../../components/DiffView";
import { Textarea } from "../../components/Field";
import { Markdown } from "../../components/Markdown";
import { errorText, QueryState } from "../../components/States";
import { useToast } from "../../components/Toast";
import { keys } from "../../lib/keys";
import { dateTime } from "../../lib/format";

function NotesEditor({ state }: { state: WorkingMd }) {
  const client = useQueryClient();
  const toast = useToast();
  const [notes, setNotes] = useState(state.notes);
  const [base, setBase] = useState(state.notes_version);
  const [conflict, setConflict] = useState<WorkingMd | null>(null);
  const save = useMutation({
    mutationFn: () => workingMd.saveNotes(notes, base),
    onSuccess: (saved) => {
      setConflict(null);
      setBase(saved.notes_version);
      client.setQueryData(keys.workingMd, saved);
      void client.invalidateQueries({ queryKey: [...keys.workingMd, "versions"] });
      toast(`Notes saved (version ${saved.notes_version})`, "success");
    },
    onError: async (error) => {
      if (error instanceof ApiError && error.status === 409) setConflict(await workingMd.get());
    },
  });
  const dirty = notes !== state.notes || base !== state.notes_version;
  return (
    <div className="space-y-2">
      {conflict && (
        <div role="alert" data-testid="notes-conflict" className="space-y-2 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950/40 dark:text-amber-100">
          <p>The notes changed to version {conflict.notes_version} while you edited version {base}. Your text is still in the editor. What changed from theirs to yours:</p>
          <DiffView before={conflict.notes} after={notes} />
          <div className="flex flex-wrap gap-2">
            <Button size="sm" onClick={() => { setBase(conflict.notes_version); setConflict(null); }}>Save mine over theirs next</Button>
            <Button size="sm" onClick={() => { setNotes(conflict.notes); setBase(conflict.notes_version); setConflict(null); }}>Discard mine, take theirs</Button>
          </div>
        </div>
      )}
      <Textarea aria-label="Notes" rows={10} className="font-mono" value={notes} onChange={(e) => setNotes(e.target.value)} />
      {save.error && !conflict && <p role="alert" className="text-sm text-rose-600">{errorText(save.error)}</p>}
      <div className="flex items-center justify-end gap-2">
        <span className="text-xs text-slate-500">editing on top of version {base}</span>
        <Button variant="primary" disabled={!dirty || save.isPending || Boolean(conflict)} onClick={() => save.mutate()}>Save notes</Button>
      </div>
    </div>
  );
}

function NotesHistory({ versions }: { versions: WorkingNotesVersion[] }) {
  const [shown, setShown] = useState<number | null>(null);
  const sorted = [...versions].sort((a, b) => b.version - a.version);
  const byNumber = new Map(versions.map((version) => [version.version, version]));
  const current = shown === null ? undefined : byNumber.get(shown);
  return (
    <div className="mt-4 space-y-2">
      <h3 className="text-xs font-semibold text-slate-500 uppercase">History</h3>
      {sorted.length === 0 && <p className="text-sm text-slate-500">No saved versions yet.</p>}
      <ul className="space-y-0.5 text-sm" aria-label="Notes versions">
        {sorted.slice(0, 15).map((version) => (
          <li key={version.version}>
            <button type="button" className="text-left hover:underline" aria-pressed={shown === version.version} onClick={() => setShown(shown === version.version ? null : version.version)}>
              v{version.version} · {version.author_kind} · {dateTime(version.created_at)}
            </button>
          </li>
        ))}
      </ul>
      {current && <DiffView before={byNumber.get(current.version - 1)?.content ?? ""} after={current.content} />}
    </div>
  );
}

export default function WorkingMdPage() {
  const can = useCan();
  const query = useQuery({ queryKey: keys.workingMd, queryFn: workingMd.get });
  const versions = useQuery({ queryKey: [...keys.workingMd, "versions"], queryFn: workingMd.versions });
  return (
    <>
      <PageHeader title="WORKING.md" subtitle="The team's shared state: rendered from the board, plus notes anyone on the team can edit." />
      <QueryState query={query}>
        {(state) => (
          <div className="grid gap-4 lg:grid-cols-2">
            <Card>
              <CardHeader title={`Notes (version ${state.notes_version})`} />
              <div className="p-4">
                {can("working_md:write") ? <NotesEditor state={state} /> : state.notes ? <Markdown source={state.notes} /> : <p className="text-sm text-slate-500">No notes yet.</p>}
                <NotesHistory versions={versions.data ?? []} />
              </div>
            </Card>
            <Card>
              <CardHeader title={`Rendered ${dateTime(state.rendered_at)}`} />
              <div className="p-4"><Markdown source={state.content} /></div>
            </Card>
          </div>
        )}
      </QueryState>
    </>
  );
}
