// The frame around every page: navigation, tenant, live status, notifications, theme, sign-out.
import { useQueryClient } from "@tanstack/react-query";
import {
  Bot,
  Coins,
  FileText,
  LayoutDashboard,
  LogOut,
  Menu,
  Moon,
  NotebookPen,
  Shield,
  Sun,
  Workflow,
} from "lucide-react";
import { Suspense, useState } from "react";
import { NavLink, Outlet, useLocation } from "react-router";
import { auth } from "../api/people";
import { session } from "../api/session";
import { useCan, useMe } from "../auth/useAuth";
import { Button, focusRing } from "../components/Button";
import { Loading } from "../components/States";
import { NotificationBell } from "../features/notifications/NotificationBell";
import { applyTheme, preferredTheme, type Theme } from "../lib/theme";
import { useLive } from "./live";
import { TenantSwitcher } from "./TenantSwitcher";

function LiveIndicator() {
  const { status } = useLive();
  const label = status === "live" ? "Live" : status === "stopped" ? "Offline" : "Reconnecting…";
  const dot = status === "live" ? "bg-emerald-500" : status === "stopped" ? "bg-slate-400" : "animate-pulse bg-amber-500";
  return (
    <span role="status" data-testid="live-status" data-status={status} className="inline-flex items-center gap-1.5 text-xs text-slate-500">
      <span className={`size-2 rounded-full ${dot}`} aria-hidden />
      {label}
    </span>
  );
}

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(preferredTheme);
  const nextTheme = theme === "dark" ? "light" : "dark";
  return (
    <Button
      variant="ghost"
      size="sm"
      aria-label={`Switch to ${nextTheme} mode`}
      onClick={() => {
        applyTheme(nextTheme, true);
        setTheme(nextTheme);
      }}
    >
      {theme === "dark" ? <Sun className="size-4" aria-hidden /> : <Moon className="size-4" aria-hidden />}
    </Button>
  );
}

export function signOut(client: ReturnType<typeof useQueryClient>) {
  const refresh = session.get()?.refreshToken;
  session.end("signed_out");
  client.clear();
  if (refresh) void auth.logout(refresh).catch(() => {});
}

export default function Layout() {
  const can = useCan();
  const { data: me } = useMe();
  const client = useQueryClient();
  const [menuOpen, setMenuOpen] = useState(false);
  const { pathname } = useLocation();
  const nav = [
    { to: "/", label: "Command center", icon: LayoutDashboard, show: true },
    { to: "/agents", label: "Agents", icon: Bot, show: true },
    { to: "/documents", label: "Documents", icon: FileText, show: true },
    // A run, the dead letters and the new-workflow editor are workflow pages too.
    { to: "/workflows", label: "Workflows", icon: Workflow, show: can("workflows:read"), also: ["/workflow-", "/new-workflow"] },
    { to: "/working", label: "WORKING.md", icon: NotebookPen, show: true },
    { to: "/usage", label: "Usage & budgets", icon: Coins, show: can("models:read") },
    { to: "/admin", label: "Admin", icon: Shield, show: can("users:manage") || can("models:manage") },
  ];
  const link = ({ isActive }: { isActive: boolean }) =>
    `flex items-center gap-2 rounded-md px-3 py-2 text-sm font-medium ${focusRing} ${
      isActive
        ? "bg-indigo-50 text-indigo-700 dark:bg-indigo-950 dark:text-indigo-200"
        : "text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800"
    }`;
  return (
    <div className="flex min-h-screen">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:z-50 focus:bg-white focus:p-2">
        Skip to content
      </a>
      <nav
        aria-label="Main"
        className={`${menuOpen ? "block" : "hidden"} fixed inset-y-0 left-0 z-40 w-56 border-r border-slate-200 bg-white p-3 md:static md:block dark:border-slate-800 dark:bg-slate-900`}
      >
        <div className="mb-4 flex items-center gap-2 px-2 py-1">
          <img src="/favicon.svg" alt="" className="size-6" />
          <span className="font-semibold">Mission Control</span>
        </div>
        <ul className="space-y-1">
          {nav
            .filter((item) => item.show)
            .map(({ to, label, icon: Icon, also }) => (
              <li key={to}>
                <NavLink
                  to={to}
                  end={to === "/"}
                  className={({ isActive }) => link({ isActive: isActive || (also ?? []).some((prefix) => pathname.startsWith(prefix)) })}
                  onClick={() => setMenuOpen(false)}
                >
                  <Icon className="size-4" aria-hidden />
                  {label}
                </NavLink>
              </li>
            ))}
        </ul>
      </nav>
      {menuOpen && (
        <div className="fixed inset-0 z-30 bg-slate-900/30 md:hidden" aria-hidden onClick={() => setMenuOpen(false)} />
      )}
      <div className="flex min-w-0 flex-1 flex-col">
        <header className="sticky top-0 z-20 flex items-center gap-2 border-b border-slate-200 bg-white/90 px-3 py-2 backdrop-blur dark:border-slate-800 dark:bg-slate-900/90">
          <Button variant="ghost" size="sm" className="md:hidden" aria-label="Menu" aria-expanded={menuOpen} onClick={() => setMenuOpen((open) => !open)}>
            <Menu className="size-5" aria-hidden />
          </Button>
          <TenantSwitcher />
          <div className="flex-1" />
          <LiveIndicator />
          <NotificationBell />
          <ThemeToggle />
          <span className="hidden text-xs text-slate-500 sm:inline" data-testid="whoami">
            {me?.user?.display_name ?? me?.user?.email} · {me?.role}
          </span>
          <Button variant="ghost" size="sm" onClick={() => signOut(client)} aria-label="Sign out">
            <LogOut className="size-4" aria-hidden />
          </Button>
        </header>
        <main id="main" className="min-w-0 flex-1 p-3 sm:p-5">
          <Suspense fallback={<Loading />}>
            <Outlet />
          </Suspense>
        </main>
      </div>
    </div>
  );
}
