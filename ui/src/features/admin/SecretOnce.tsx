// A secret the API shows once (an API key, an invitation link): copy it now.
import { Copy } from "lucide-react";
import { Button } from "../../components/Button";

export function SecretOnce({ label, value }: { label: string; value: string }) {
  return (
    <div role="status" className="space-y-1 rounded-md border border-emerald-300 bg-emerald-50 p-3 text-sm dark:border-emerald-800 dark:bg-emerald-950/40">
      <p className="font-medium">{label} — shown once, copy it now.</p>
      <div className="flex items-center gap-2">
        <code className="min-w-0 flex-1 overflow-x-auto rounded bg-white px-2 py-1 text-xs dark:bg-slate-900" data-testid="secret">{value}</code>
        <Button size="sm" aria-label="Copy" onClick={() => void navigator.clipboard?.writeText(value)}><Copy className="size-4" aria-hidden /></Button>
      </div>
    </div>
  );
}
