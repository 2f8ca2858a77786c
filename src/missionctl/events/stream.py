"""Live events: the event log, followed by each API process and fanned out to its streams.

One `EventTail` per API process follows the log of every tenant in a thread: it wakes on this
process's commits, on PostgreSQL NOTIFY from other processes, on `PRAGMA data_version` changes on
SQLite (looked at every 5 ms, a few microseconds each), or at least every second, and reads what
settled since its position (see `events.service.read_settled`: no event with a smaller id can
commit later). Each event is
serialised once and handed to the subscribers on the event loop, filtered by tenant, by what the
subscriber's role may read and by its type patterns.

A subscriber resumes after a given id: it first reads the events it missed from the database, in
pages, up to the tail's position, and only then joins the live fan-out (atomically, on the event
loop, at that same position), so it misses nothing and sees nothing twice. Each subscriber has a
bounded queue; one that falls further behind is told to go (`Overflow`) and resumes later from
its last id, instead of growing the server's memory.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import structlog
from anyio.to_thread import run_sync
from sqlalchemy.exc import SQLAlchemyError

from missionctl.db import ChangeProbe, Database
from missionctl.events.schemas import Event, EventFilter, Order
from missionctl.events.service import list_events, read_settled, settled_position
from missionctl.permissions import Role, hidden_event_prefixes
from missionctl.signals import EVENTS

log = structlog.get_logger("missionctl.stream")

READ_BATCH = 500
CATCH_UP_PAGE = 200
SQLITE_PROBE_SECONDS = 0.005
POLL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """An event as streams send it: serialised once for every subscriber."""

    event_id: int
    tenant_id: uuid.UUID
    event_type: str
    json: str  # the `Event` as JSON


@dataclass(frozen=True, slots=True)
class Ping:
    """Nothing happened for a while; `position` is the last event id the stream considered."""

    position: int


@dataclass(frozen=True, slots=True)
class Overflow:
    """The subscriber fell too far behind; it should reconnect and resume after `resume_after`."""

    resume_after: int


class Closed:
    """The stream ends: its client left, or the server is shutting down."""


CLOSED = Closed()


def matches(event_type: str, patterns: Iterable[str]) -> bool:
    """True if `event_type` is one of `patterns` (`task.created`, `task.*` or `*`)."""
    for pattern in patterns:
        if pattern in ("*", event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def to_stream_event(event: Event, tenant_id: uuid.UUID) -> StreamEvent:
    """An `Event` serialised for streaming."""
    return StreamEvent(event.event_id, tenant_id, event.event_type, event.model_dump_json())


Item = StreamEvent | Overflow | Closed | None  # None: a ping


class Mailbox:
    """A single reader's queue on the event loop.

    What the fan-out puts once per event and stream, so it does the least: `asyncio.Queue` also
    counts unfinished tasks, keeps an event and checks its loop on every item.
    """

    __slots__ = ("_items", "_loop", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Item] = deque()
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Item) -> None:
        """Add an item and wake the reader."""
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def get(self) -> Item:
        """The next item, waiting for one if need be."""
        while not self._items:
            self._waiter = self._loop.create_future()
            await self._waiter
        return self._items.popleft()


@dataclass(eq=False)
class Subscriber:
    """One live stream's filter and queue."""

    tenant_id: uuid.UUID
    role: Role
    patterns: tuple[str, ...] = ()
    max_queue: int = 1000
    queue: Mailbox = field(init=False)
    hidden: tuple[str, ...] = field(init=False)
    last_id: int = 0
    is_overflowed: bool = False
    is_closed: bool = False
    last_sent: float = 0.0  # event loop time of the last item taken

    def __post_init__(self) -> None:
        self.queue = Mailbox()
        self.hidden = tuple(hidden_event_prefixes(self.role))

    def wants(self, event: StreamEvent) -> bool:
        """Whether this subscriber may and wants to see the event."""
        if event.tenant_id != self.tenant_id or event.event_id <= self.last_id:
            return False
        if self.hidden and event.event_type.startswith(self.hidden):
            return False
        return not self.patterns or matches(event.event_type, self.patterns)

    def close(self) -> None:
        """End the stream (on the event loop): it stops at the next item it takes."""
        self.is_closed = True
        self.queue.put(CLOSED)

    def offer(self, event: StreamEvent) -> None:
        """Queue the event, or mark the subscriber overflowed when it is too far behind."""
        if self.is_overflowed or not self.wants(event):
            return
        if len(self.queue) >= self.max_queue:
            self.is_overflowed = True
            self.queue.put(Overflow(self.last_id))
            return
        self.queue.put(event)
        self.last_id = event.event_id


class EventTail:
    """Follows the event log for this process's live streams (see module docstring).

    `position` is the last id read (tail thread); `published` the last id handed to subscribers
    (event loop). Both only move forward.
    """

    def __init__(self, db: Database, *, ping_seconds: float = 15.0) -> None:
        self.db = db
        self.ping_seconds = ping_seconds
        self.position = 0
        self.published = 0
        self._pinger: asyncio.Task[None] | None = None
        self._subscribers: set[Subscriber] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._stop = threading.Event()
        self._start_lock = threading.Lock()

    @property
    def stream_count(self) -> int:
        """Live streams joined to this process's fan-out."""
        return len(self._subscribers)

    async def ensure_started(self) -> None:
        """Start following (once), from the log's current settled end."""
        if not self._started.is_set():
            await run_sync(self._start, asyncio.get_running_loop())
        if self._pinger is None:
            self._pinger = asyncio.get_running_loop().create_task(self._ping_idle())

    async def _ping_idle(self) -> None:
        """Queue a ping for every subscriber quiet for `ping_seconds` (one timer for all: a timer
        per stream and wait would cost more than sending the events)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.ping_seconds / 4)
            now = loop.time()
            for subscriber in self._subscribers:
                if not subscriber.queue and now - subscriber.last_sent >= self.ping_seconds:
                    subscriber.queue.put(None)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._start_lock:
            if self._started.is_set():
                return
            self._loop = loop
            self.db.listen()
            with self.db.engine.connect() as conn:
                self.position = self.published = settled_position(conn)
            self._thread = threading.Thread(target=self._run, name="event-tail", daemon=True)
            self._thread.start()
            self._started.set()

    def stop(self) -> None:
        """Stop following."""
        loop, pinger = self._loop, self._pinger
        if loop is not None and pinger is not None and not loop.is_closed():
            loop.call_soon_threadsafe(pinger.cancel)
        self._stop.set()
        self.db.signals.raise_(EVENTS)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        probe = ChangeProbe(self.db.engine)
        try:
            while not self._stop.is_set():
                seen = self.db.signals.seen(EVENTS)
                try:
                    count = self._read_more()
                except SQLAlchemyError as exc:
                    log.warning("event_tail_read_failed", error=str(exc).splitlines()[0])
                    self._stop.wait(1.0)
                    continue
                except Exception:  # a bug must not end live events for the process's life
                    log.exception("event_tail_crashed")
                    self._stop.wait(1.0)
                    continue
                if not count:
                    self._sleep(seen, probe)
        finally:
            probe.close()

    def _sleep(self, seen: int, probe: ChangeProbe) -> None:
        """Until this process commits events, NOTIFY, SQLite's data_version moves, or a second."""
        waited = 0.0
        step = SQLITE_PROBE_SECONDS if self.db.is_sqlite else POLL_SECONDS
        probe.changed()
        while waited < POLL_SECONDS and not self._stop.is_set():
            if self.db.signals.wait(EVENTS, seen, step) != seen:
                return
            if self.db.is_sqlite and probe.changed():
                return
            waited += step

    def _read_more(self) -> int:
        with self.db.engine.connect() as conn:
            rows = read_settled(conn, self.position, READ_BATCH)
        if not rows:
            return 0
        events = [to_stream_event(event, tenant_id) for tenant_id, event in rows]
        self.position = events[-1].event_id
        loop = self._loop
        try:
            if loop is not None:
                loop.call_soon_threadsafe(self._publish, events)
        except RuntimeError:  # the loop closed: the server stopped
            self._stop.set()
        return len(events)

    def _publish(self, events: list[StreamEvent]) -> None:
        """On the event loop: hand each event to every subscriber that wants it."""
        for subscriber in self._subscribers:
            for event in events:
                subscriber.offer(event)
        self.published = events[-1].event_id

    def join(self, subscriber: Subscriber, caught_up_to: int) -> bool:
        """On the event loop: join the fan-out if nothing was published after `caught_up_to`."""
        if self.published != caught_up_to:
            return False
        subscriber.last_id = max(subscriber.last_id, caught_up_to)
        subscriber.last_sent = asyncio.get_running_loop().time()
        self._subscribers.add(subscriber)
        return True

    def leave(self, subscriber: Subscriber) -> None:
        """Stop sending to a subscriber."""
        self._subscribers.discard(subscriber)

    def close_streams(self) -> None:
        """On the event loop: end every stream (the server is shutting down; clients resume
        elsewhere from their last id)."""
        for subscriber in self._subscribers:
            subscriber.close()


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """Who follows which events, from where."""

    tenant_id: uuid.UUID
    role: Role
    after: int | None  # None: only what happens from now on
    patterns: tuple[str, ...] = ()
    max_queue: int = 1000


def _missed(db: Database, request: StreamRequest, after: int, until: int) -> list[StreamEvent]:
    event_filter = EventFilter(
        after=after,
        until=until,
        order=Order.OLDEST_FIRST,
        limit=CATCH_UP_PAGE,
        event_types=list(request.patterns),
        hidden_prefixes=hidden_event_prefixes(request.role),
    )
    with db.transaction(request.tenant_id, write=False) as session:
        page = list_events(session, event_filter)
    return [to_stream_event(event, request.tenant_id) for event in page.items]


def subscriber_for(request: StreamRequest) -> Subscriber:
    """A subscriber for a stream request (its caller may `close()` it to end the stream)."""
    return Subscriber(request.tenant_id, request.role, request.patterns, request.max_queue)


async def follow(
    tail: EventTail, request: StreamRequest, subscriber: Subscriber | None = None
) -> AsyncIterator[StreamEvent | Ping | Overflow]:
    """The events a stream sends, in id order: missed ones from the database, then live ones.

    Yields `Ping` after the tail's `ping_seconds` of quiet; ends after an `Overflow`, or when the
    subscriber is closed.
    """
    await tail.ensure_started()
    subscriber = subscriber or subscriber_for(request)
    last = tail.published if request.after is None else request.after
    try:
        while not subscriber.is_closed:
            target = tail.published
            while last < target and not subscriber.is_closed:
                page = await run_sync(_missed, tail.db, request, last, target)
                for event in page:
                    yield event
                    last = event.event_id
                if len(page) < CATCH_UP_PAGE:
                    last = target
            subscriber.last_id = last
            if tail.join(subscriber, target):
                break
        loop = asyncio.get_running_loop()
        while True:
            item = await subscriber.queue.get()
            subscriber.last_sent = loop.time()
            if item is None:  # a ping, queued while nothing else was
                yield Ping(max(subscriber.last_id, tail.published))
                continue
            if isinstance(item, Closed):
                return
            yield item
            if isinstance(item, Overflow):
                return
    finally:
        tail.leave(subscriber)
