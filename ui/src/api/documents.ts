// Documents with versions, and WORKING.md.
import { api } from "./client";
import type * as S from "./schema.gen";

export const documents = {
  list: (query: { text?: string; task_id?: string; doc_type?: S.DocumentType } = {}) =>
    api<S.Page_DocumentSummary_>("/documents", { query: { ...query, limit: 100 } }),
  get: (documentId: string) => api<S.Document>(`/documents/${documentId}`),
  create: (data: S.DocumentCreate) =>
    api<S.Document>("/documents", { method: "POST", body: data }),
  /** Save a new version; refused with 409 version_conflict when someone saved since `version`. */
  save: (documentId: string, data: S.DocumentUpdate, version: number) =>
    api<S.Document>(`/documents/${documentId}`, {
      method: "PUT",
      body: data,
      headers: { "if-match": `"${version}"` },
    }),
  versions: (documentId: string) => api<S.DocumentVersion[]>(`/documents/${documentId}/versions`),
};

export const workingMd = {
  get: () => api<S.WorkingMd>("/state/working-md"),
  saveNotes: (notes: string, version: number) =>
    api<S.WorkingMd>("/state/working-md", {
      method: "PUT",
      body: { notes },
      headers: { "if-match": `"${version}"` },
    }),
  versions: () => api<S.WorkingNotesVersion[]>("/state/working-md/versions"),
};
