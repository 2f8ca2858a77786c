// The live event stream for the whole app: invalidates cached queries as events arrive (batched,
// since a goal can produce dozens of events a second) and lets pages listen for events.
import { useQueryClient } from "@tanstack/react-query";
import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from "react";
import { EventStream, type StreamStatus } from "../api/events";
import type { Event } from "../api/schema.gen";
import { useSession } from "../auth/useAuth";
import { staleKeysFor } from "../lib/keys";

type Listener = (event: Event) => void;

interface Live {
  status: StreamStatus;
  subscribe: (listener: Listener) => () => void;
  reconnect: () => void;
}

const LiveContext = createContext<Live>({
  status: "stopped",
  subscribe: () => () => {},
  reconnect: () => {},
});

export function useLive(): Live {
  return useContext(LiveContext);
}

/** Call `listener` for every live event while the component is mounted. */
export function useLiveEvents(listener: Listener): void {
  const { subscribe } = useLive();
  const latest = useRef(listener);
  useEffect(() => {
    latest.current = listener;
  });
  useEffect(() => subscribe((event) => latest.current(event)), [subscribe]);
}

const BATCH_MS = 250;

export function LiveProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const current = useSession();
  // One stream per signed-in tenant: signing out or switching tenant restarts it.
  const streamKey = current === null ? null : (current.tenant ?? "");
  const [status, setStatus] = useState<StreamStatus>("stopped");
  const listeners = useRef(new Set<Listener>());
  const stream = useRef<EventStream | null>(null);

  useEffect(() => {
    if (streamKey === null) return;
    let pending = new Map<string, readonly string[]>();
    let timer: ReturnType<typeof setTimeout> | null = null;
    let wasDown = false;
    const flush = () => {
      timer = null;
      const batch = pending;
      pending = new Map();
      for (const queryKey of batch.values()) void client.invalidateQueries({ queryKey });
    };
    const events = new EventStream(
      (event) => {
        for (const queryKey of staleKeysFor(event.event_type)) pending.set(queryKey.join("/"), queryKey);
        timer ??= setTimeout(flush, BATCH_MS);
        for (const listener of listeners.current) listener(event);
      },
      (next) => {
        setStatus(next);
        // Back after a drop: the stream resumes where it stopped, but refetch anyway in case
        // the server dropped our position (an overflow) or the page slept.
        if (next === "reconnecting") wasDown = true;
        if (next === "live" && wasDown) {
          wasDown = false;
          void client.invalidateQueries();
        }
      },
    );
    stream.current = events;
    events.start();
    return () => {
      events.stop();
      if (timer) clearTimeout(timer);
      stream.current = null;
    };
  }, [client, streamKey]);

  const subscribe = useCallback((listener: Listener) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);
  const reconnect = useCallback(() => stream.current?.reconnect(), []);
  const value = useMemo<Live>(
    () => ({ status, subscribe, reconnect }),
    [status, subscribe, reconnect],
  );
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}
