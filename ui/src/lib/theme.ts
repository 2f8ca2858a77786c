// Dark mode: the person's choice, else the system's, applied as a class on <html>.
export type Theme = "light" | "dark";
const KEY = "mc.theme";

export function preferredTheme(): Theme {
  const saved = localStorage.getItem(KEY);
  if (saved === "light" || saved === "dark") return saved;
  return globalThis.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function applyTheme(theme: Theme, remember = false): void {
  document.documentElement.classList.toggle("dark", theme === "dark");
  if (remember) localStorage.setItem(KEY, theme);
}
