"""Wake-up signals: "something committed on channel X", within a process and across processes.

A unit of work that appends events or enqueues jobs raises its channel after it commits (see the
`after_commit` hooks of `events.service` and `engine.service`), so the process's own stream
tail and workers react at once. Other processes hear it through PostgreSQL LISTEN/NOTIFY
(`PgListener`, which re-raises what it hears here). Signals are only hints: every waiter also
polls, so a lost signal costs latency, never work.

A core module: it imports nothing else from missionctl.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import psycopg
import structlog

EVENTS = "missionctl_events"
JOBS = "missionctl_jobs"
CHANNELS = (EVENTS, JOBS)

log = structlog.get_logger("missionctl.signals")


class Signals:
    """Per-channel counters that waiters block on until they move."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._counters: dict[str, int] = dict.fromkeys(CHANNELS, 0)

    def raise_(self, channel: str) -> None:
        """Wake everyone waiting on `channel`."""
        with self._condition:
            self._counters[channel] = self._counters.get(channel, 0) + 1
            self._condition.notify_all()

    def raise_all(self) -> None:
        """Wake every waiter (after a reconnect, when notifications may have been missed)."""
        with self._condition:
            for channel in self._counters:
                self._counters[channel] += 1
            self._condition.notify_all()

    def seen(self, channel: str) -> int:
        """The channel's counter now; pass it to `wait` to sleep until it moves."""
        with self._condition:
            return self._counters.get(channel, 0)

    def wait(self, channel: str, seen: int, timeout: float) -> int:
        """Block until the counter moves past `seen` or `timeout` passes; the counter then."""
        with self._condition:
            self._condition.wait_for(lambda: self._counters.get(channel, 0) != seen, timeout)
            return self._counters.get(channel, 0)


class PgListener:
    """A thread that LISTENs on PostgreSQL and raises what it hears as local signals.

    One dedicated connection per process. When the connection drops it reconnects with backoff
    and raises every channel once, since notifications sent meanwhile are lost.
    """

    def __init__(self, conninfo: str, signals: Signals, channels: Iterable[str]) -> None:
        self.conninfo = conninfo
        self.signals = signals
        self.channels = tuple(channels)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listener", daemon=True)
        self.is_listening = threading.Event()

    def start(self) -> PgListener:
        """Start listening in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop (within about a second)."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as connection:
                    for channel in self.channels:
                        connection.execute(f"LISTEN {channel}")
                    self.is_listening.set()
                    self.signals.raise_all()
                    delay = 0.5
                    while not self._stop.is_set():
                        for notice in connection.notifies(timeout=1.0):
                            self.signals.raise_(notice.channel)
            except psycopg.Error as exc:
                self.is_listening.clear()
                log.warning("pg_listener_reconnecting", error=str(exc).splitlines()[0])
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
