// Short messages after an action: what happened, or why it was refused.
import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from "react";

type Tone = "info" | "error" | "success";
interface ToastItem {
  id: number;
  tone: Tone;
  text: string;
}

const ToastContext = createContext<(text: string, tone?: Tone) => void>(() => {});

export function useToast() {
  return useContext(ToastContext);
}

let next = 1;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<ToastItem[]>([]);
  const show = useCallback((text: string, tone: Tone = "info") => {
    const id = next++;
    setItems((current) => [...current.slice(-3), { id, tone, text }]);
    setTimeout(() => setItems((current) => current.filter((item) => item.id !== id)), 6000);
  }, []);
  const value = useMemo(() => show, [show]);
  const tones: Record<Tone, string> = {
    info: "bg-slate-800 text-white",
    success: "bg-emerald-700 text-white",
    error: "bg-rose-700 text-white",
  };
  return (
    <ToastContext.Provider value={value}>
      {children}
      <div
        aria-live="polite"
        className="pointer-events-none fixed right-4 bottom-4 z-50 flex max-w-sm flex-col gap-2"
      >
        {items.map((item) => (
          <div
            key={item.id}
            role={item.tone === "error" ? "alert" : "status"}
            data-testid="toast"
            className={`pointer-events-auto rounded-md px-3 py-2 text-sm shadow-lg ${tones[item.tone]}`}
          >
            {item.text}
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}
