import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { agents } from "./api/agents";
import { tasks } from "./api/board";
import { session } from "./api/session";
import App from "./app/App";
import { initialQueryClient, TenantQueryProvider } from "./app/queryClient";
import { LiveProvider } from "./app/live";
import { ToastProvider } from "./components/Toast";
import "./index.css";
import { keys } from "./lib/keys";
import { applyTheme, preferredTheme } from "./lib/theme";

applyTheme(preferredTheme());

const client = initialQueryClient;

// The command center is the page most people land on: fetch its code and its first data while
// React starts, instead of one after the other.
if (location.pathname === "/" && session.get()) {
  void import("./features/command/CommandCenter");
  void client.prefetchQuery({ queryKey: keys.board, queryFn: () => tasks.list({ limit: 200 }) });
  void client.prefetchQuery({ queryKey: keys.agents, queryFn: agents.list });
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <ToastProvider>
      <TenantQueryProvider>
        <LiveProvider>
          <App />
        </LiveProvider>
      </TenantQueryProvider>
    </ToastProvider>
  </StrictMode>,
);
