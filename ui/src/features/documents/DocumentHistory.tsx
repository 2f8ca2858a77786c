// Every version of a document; compare any two.
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { documents } from "../../api/documents";
import type { Document } from "../../api/schema.gen";
import { DiffView } from "../../components/DiffView";
import { Field, Select } from "../../components/Field";
import { QueryState } from "../../components/States";
import { keys } from "../../lib/keys";
import { dateTime } from "../../lib/format";

export function DocumentHistory({ doc }: { doc: Document }) {
  const query = useQuery({ queryKey: [...keys.document(doc.document_id), "versions", doc.version], queryFn: () => documents.versions(doc.document_id) });
  const [from, setFrom] = useState(Math.max(1, doc.version - 1));
  const [to, setTo] = useState(doc.version);
  return (
    <QueryState query={query} loadingLabel="Loading versions">
      {(versions) => {
        const byNumber = new Map(versions.map((version) => [version.version, version]));
        const before = byNumber.get(from);
        const after = byNumber.get(to);
        return (
          <div className="space-y-4">
            <ul className="divide-y divide-slate-100 text-sm dark:divide-slate-800" aria-label="Versions">
              {[...versions].sort((a, b) => b.version - a.version).map((version) => (
                <li key={version.version} className="flex flex-wrap gap-2 py-1.5" data-testid="document-version">
                  <span className="font-medium">v{version.version}</span>
                  <span>{version.title}</span>
                  <span className="text-slate-500">{dateTime(version.created_at)} · {version.author_kind}</span>
                </li>
              ))}
            </ul>
            {versions.length > 1 && (
              <>
                <div className="flex flex-wrap items-end gap-2">
                  <div className="w-28"><Field label="From">{(id) => <Select id={id} value={from} onChange={(e) => setFrom(Number(e.target.value))}>{versions.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}</Select>}</Field></div>
                  <div className="w-28"><Field label="To">{(id) => <Select id={id} value={to} onChange={(e) => setTo(Number(e.target.value))}>{versions.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}</Select>}</Field></div>
                </div>
                {before && after && <DiffView before={before.content} after={after.content} />}
              </>
            )}
          </div>
        );
      }}
    </QueryState>
  );
}
