// A line diff of two texts (document versions, notes), added lines green, removed red.
import { diffLines } from "diff";
import { useMemo } from "react";

// Compare whole lines: a last line without its newline is the same line as one with it.
const withEol = (text: string) => (text === "" || text.endsWith("\n") ? text : `${text}\n`);

export function DiffView({ before, after }: { before: string; after: string }) {
  const parts = useMemo(() => diffLines(withEol(before), withEol(after)), [before, after]);
  if (parts.every((part) => !part.added && !part.removed))
    return <p className="text-sm text-slate-500">No changes.</p>;
  return (
    <pre
      data-testid="diff"
      className="overflow-x-auto rounded-md border border-slate-200 bg-slate-50 p-2 font-mono text-xs dark:border-slate-800 dark:bg-slate-950"
    >
      {parts.map((part, index) => {
        const tone = part.added
          ? "bg-emerald-100 text-emerald-900 dark:bg-emerald-950 dark:text-emerald-200"
          : part.removed
            ? "bg-rose-100 text-rose-900 line-through decoration-rose-400/50 dark:bg-rose-950 dark:text-rose-200"
            : "text-slate-500";
        const sign = part.added ? "+ " : part.removed ? "- " : "  ";
        const lines = part.value.replace(/\n$/, "").split("\n");
        return (
          <span key={index} className={`block ${tone}`}>
            {lines.map((line) => `${sign}${line}`).join("\n")}
          </span>
        );
      })}
    </pre>
  );
}

/** A unified diff from the API (agent instructions), coloured by its first character. */
export function UnifiedDiff({ text }: { text: string }) {
  return (
    <pre className="overflow-x-auto rounded-md border border-slate-200 bg-slate-50 p-2 font-mono text-xs dark:border-slate-800 dark:bg-slate-950">
      {text.trimEnd().split("\n").map((line, index) => (
        <span
          key={index}
          className={`block ${
            line.startsWith("+") && !line.startsWith("+++")
              ? "bg-emerald-100 dark:bg-emerald-950"
              : line.startsWith("-") && !line.startsWith("---")
                ? "bg-rose-100 dark:bg-rose-950"
                : ""
          }`}
        >
          {line || " "}
        </span>
      ))}
    </pre>
  );
}
