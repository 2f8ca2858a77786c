"""Where does the time of `GET /api/v1/tasks?limit=50&status=<column>` go? (issue 2)

Companion of bench/board_list.py, which measures the request under load. This script explains the
figure by timing the pieces of one request, and by serving variants of the route under the same
load, so each saving is measured rather than guessed. It changes nothing in src/: the variants
are built here, on the real app and the real service.

Part 1, in process, one request at a time (after a warm-up: the median of N runs, the best
median of five blocks of N/5, least disturbed by other processes, and the CPU time per run):
    the floor (the three SQL statements through the stdlib sqlite3 module), the unit of work
    (session, pooled connection, BEGIN/COMMIT), the page query through the ORM session and through
    Core, `_assemble` (its two IN queries, then its Python loop: dict building and
    `Task.model_validate` x 50), the whole of `service.list_tasks`, FastAPI's response handling
    (re-validation of the returned `Page[Task]`, then `dump_json`), a thread-pool hop, and the
    whole app called in process through ASGI (no socket).

Part 2, under load (wrk, 50 connections, like board_list.py), one server process each:
    baseline    the product app, exactly as `missionctl up` serves it;
    pool        baseline with a SQLite pool of 48 (no overflow connections opened and closed);
    threads-4   baseline with anyio's thread pool cut from 40 threads to 4 (less GIL contention);
    threads-1   the same with 1 thread: sync routes run one at a time, off the event loop;
  and, cumulatively (each adds to the one before, on the default pool and thread pool):
    no-dep      the route without the sync `Ctx` dependency (FastAPI runs every sync dependency
                in the thread pool: one hop fewer);
    response    + returns `Response(TypeAdapter(Page[Task]).dump_json(page))`: no re-validation
                of the result, and no thread-pool hop for it (sync routes validate in the pool);
    async       + `async def`: the service runs on the event loop, no thread pool at all;
    lean        + a leaner service: Core queries on a pooled connection (no ORM session, no
                tenant-criteria event, explicit tenant filter), the 50 tasks validated in one
                `TypeAdapter(list[Task])` call;
    raw         + the DBAPI connection directly: ids and timestamps stay the strings SQLite
                stores and pydantic's Rust core parses them in the same batch call (output
                checked byte-identical to the product's);
    raw-sync    raw as a sync route (one thread-pool hop; the event loop is never blocked);
    raw-sync-1  raw-sync with a thread pool of 1;
    ceiling     a perfect cache: the page's JSON bytes from a dict, so what remains is uvicorn,
                FastAPI routing and the socket, the most any change to the service could reach.

Run: `.venv/bin/python bench/profile_board_list.py [--tasks N] [--iterations N] [--duration S]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
import uvicorn
from fastapi import FastAPI, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from sqlalchemy import Engine, String, create_engine, literal, select, type_coerce
from starlette.types import ASGIApp, Receive, Scope, Send

from board_list import (
    HOST,
    PAGE,
    RESULTS_DIR,
    ROOT,
    STATUS_WEIGHTS,
    WRK_SCRIPT,
    Options,
    Processes,
    cpu_sample,
    cpu_usage,
    ensure_wrk,
    free_port,
    machine_busy_seconds,
    machine_facts,
    missionctl_bin,
    run_wrk,
    seed_database,
    wait_ready,
    workspace,
)
from missionctl.board import service
from missionctl.board.api import router as tasks_router
from missionctl.board.models import TaskAssigneeRow, TaskDependencyRow, TaskRow
from missionctl.board.schemas import Task, TaskFilter
from missionctl.bootstrap import open_database
from missionctl.common import Page, decode_uuid_cursor, encode_cursor
from missionctl.db import DEFAULT_TENANT_ID, Database, _configure_sqlite
from missionctl.settings import load_settings
from missionctl.web.app import create_app
from missionctl.web.deps import AppState

VARIANTS = (
    "baseline",
    "pool",
    "threads-4",
    "threads-1",
    "no-dep",
    "response",
    "async",
    "lean",
    "raw",
    "raw-sync",
    "raw-sync-1",
    "ceiling",
)
PAGE_ADAPTER: TypeAdapter[Page[Task]] = TypeAdapter(Page[Task])
TASKS_ADAPTER: TypeAdapter[list[Task]] = TypeAdapter(list[Task])
TASKS_T = TaskRow.__table__
ASSIGNEES_T = TaskAssigneeRow.__table__
DEPENDENCIES_T = TaskDependencyRow.__table__
TASK_KEYS = [column.key for column in service.TASK_COLUMNS]


# --------------------------------------------------------------------------- timing helpers


def _summary(samples: list[float], cpu_seconds: float) -> dict[str, float]:
    """Wall median, best median of five blocks (least disturbed by other processes), CPU mean."""
    block = max(1, len(samples) // 5)
    blocks = [samples[i : i + block] for i in range(0, len(samples) - block + 1, block)]
    return {
        "median_us": round(statistics.median(samples) * 1e6, 1),
        "best_block_median_us": round(min(statistics.median(b) for b in blocks) * 1e6, 1),
        "cpu_us": round(cpu_seconds / len(samples) * 1e6, 1),
    }


def timeit(fn: Callable[[], object], iterations: int) -> dict[str, float]:
    """Time `fn` after a warm-up of a tenth of the runs (at least 10)."""
    for _ in range(max(10, iterations // 10)):
        fn()
    samples = []
    cpu_started = time.process_time()
    for _ in range(iterations):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return _summary(samples, time.process_time() - cpu_started)


class AsgiCaller:
    """Calls an ASGI app in process, as uvicorn would, without a socket."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def get(self, path: str, query: str) -> tuple[int, bytes]:
        """Status and body of one GET."""
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), (b"accept", b"*/*")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


async def time_async(fn: Callable[[], Awaitable[object]], iterations: int) -> dict[str, float]:
    """`timeit` for coroutines, on the running loop (CPU time includes the thread pool)."""
    for _ in range(max(10, iterations // 10)):
        await fn()
    samples = []
    cpu_started = time.process_time()
    for _ in range(iterations):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return _summary(samples, time.process_time() - cpu_started)


# --------------------------------------------------------------------------- the lean service


def lean_list_tasks(engine: Engine, task_filter: TaskFilter) -> Page[Task]:
    """What list_tasks could cost: Core queries, explicit tenant, one batch validation."""
    query = (
        select(*[TASKS_T.c[key] for key in TASK_KEYS])
        .where(TASKS_T.c.tenant_id == DEFAULT_TENANT_ID)
        .order_by(TASKS_T.c.task_id.desc())
        .limit(task_filter.limit + 1)
    )
    if task_filter.status is not None:
        query = query.where(TASKS_T.c.status == task_filter.status.value)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        page = rows[: task_filter.limit]
        ids = [row.task_id for row in page]
        assignees: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        depends_on: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for task_id, agent_id in conn.execute(
            select(ASSIGNEES_T.c.task_id, ASSIGNEES_T.c.agent_id)
            .where(ASSIGNEES_T.c.task_id.in_(ids), ASSIGNEES_T.c.tenant_id == DEFAULT_TENANT_ID)
            .order_by(ASSIGNEES_T.c.assigned_at, ASSIGNEES_T.c.agent_id)
        ):
            assignees[task_id].append(agent_id)
        for task_id, dependency_id in conn.execute(
            select(DEPENDENCIES_T.c.task_id, DEPENDENCIES_T.c.depends_on_task_id)
            .where(
                DEPENDENCIES_T.c.task_id.in_(ids),
                DEPENDENCIES_T.c.tenant_id == DEFAULT_TENANT_ID,
            )
            .order_by(DEPENDENCIES_T.c.depends_on_task_id)
        ):
            depends_on[task_id].append(dependency_id)
        conn.rollback()
    items = TASKS_ADAPTER.validate_python(
        [
            {
                **row._asdict(),
                "assignee_ids": assignees[row.task_id],
                "depends_on": depends_on[row.task_id],
            }
            for row in page
        ]
    )
    cursor = encode_cursor(items[-1].task_id) if len(rows) > task_filter.limit else None
    return Page[Task](items=items, next_cursor=cursor)


# The raw path: the DBAPI connection, UUIDs and timestamps left as the strings SQLite stores
# (UUID hex; naive UTC "YYYY-MM-DD HH:MM:SS.ffffff", given a "Z" in SQL), parsed by pydantic's
# Rust core in one batch. Only status/limit/cursor filters; byte-identical output (checked).
_UTC_COLUMNS = {"due_at", "completed_at", "created_at", "updated_at"}
RAW_PAGE_SQL = (
    "SELECT "
    + ", ".join(f"{key} || 'Z'" if key in _UTC_COLUMNS else key for key in TASK_KEYS)
    + " FROM tasks WHERE tenant_id = ? AND status = ? AND task_id < ? ORDER BY task_id DESC LIMIT ?"
)
NO_CURSOR = "g" * 32  # sorts after every hex id


def raw_list_tasks(engine: Engine, task_filter: TaskFilter) -> Page[Task]:
    """What list_tasks could cost on the DBAPI connection (status/limit/cursor filters only)."""
    if task_filter.status is None:
        raise ValueError("the raw path serves one board column")
    tenant = DEFAULT_TENANT_ID.hex
    before = decode_uuid_cursor(task_filter.cursor).hex if task_filter.cursor else NO_CURSOR
    assignees: dict[str, list[str]] = defaultdict(list)
    depends_on: dict[str, list[str]] = defaultdict(list)
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("BEGIN")
        rows = cursor.execute(
            RAW_PAGE_SQL, (tenant, task_filter.status.value, before, task_filter.limit + 1)
        ).fetchall()
        page = rows[: task_filter.limit]
        ids = [row[0] for row in page]
        marks = ",".join("?" * len(ids))
        for task_id, agent_id in cursor.execute(
            "SELECT task_id, agent_id FROM task_assignees WHERE tenant_id = ? "
            f"AND task_id IN ({marks}) ORDER BY assigned_at, agent_id",
            (tenant, *ids),
        ):
            assignees[task_id].append(agent_id)
        for task_id, dependency_id in cursor.execute(
            "SELECT task_id, depends_on_task_id FROM task_dependencies WHERE tenant_id = ? "
            f"AND task_id IN ({marks}) ORDER BY depends_on_task_id",
            (tenant, *ids),
        ):
            depends_on[task_id].append(dependency_id)
        cursor.execute("COMMIT")
    finally:
        connection.close()  # back to the pool
    items = TASKS_ADAPTER.validate_python(
        [
            {
                **dict(zip(TASK_KEYS, row, strict=True)),
                "assignee_ids": assignees[row[0]],
                "depends_on": depends_on[row[0]],
            }
            for row in page
        ]
    )
    more = len(rows) > task_filter.limit
    return Page[Task](items=items, next_cursor=encode_cursor(items[-1].task_id) if more else None)


# --------------------------------------------------------------------------- variants (part 2)


class ThreadLimit:
    """ASGI wrapper that sizes anyio's default thread pool (40 by default) on first use."""

    def __init__(self, app: ASGIApp, tokens: int) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = anyio.to_thread.current_default_thread_limiter()
        if limiter.total_tokens != self.tokens:
            limiter.total_tokens = self.tokens
        await self.app(scope, receive, send)


def variant_app(variant: str) -> ASGIApp:
    """The product app, with the list route replaced by a variant (served first)."""
    settings = load_settings()
    if variant == "pool":
        # SQLite's default QueuePool keeps 5 connections (+10 overflow, closed after use), fewer
        # than the 40 threads that run sync routes: most requests under load open a connection.
        engine = create_engine(
            settings.resolved_database_url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=48,
            max_overflow=0,
        )
        _configure_sqlite(engine)
        return create_app(settings, Database(engine))
    db = open_database(settings)
    app = create_app(settings, db)
    if variant == "baseline":
        return app
    if variant.startswith("threads-"):
        return ThreadLimit(app, int(variant.removeprefix("threads-")))

    def state(request: Request) -> AppState:
        return request.app.state.mission_control  # type: ignore[no-any-return]

    def no_dep(request: Request, query: Annotated[TaskFilter, Query()]) -> Page[Task]:
        with state(request).db.transaction(DEFAULT_TENANT_ID, write=False) as session:
            return service.list_tasks(session, query)

    def as_response(request: Request, query: Annotated[TaskFilter, Query()]) -> Response:
        with state(request).db.transaction(DEFAULT_TENANT_ID, write=False) as session:
            page = service.list_tasks(session, query)
        return Response(PAGE_ADAPTER.dump_json(page), media_type="application/json")

    async def as_async(request: Request, query: Annotated[TaskFilter, Query()]) -> Response:
        with state(request).db.transaction(DEFAULT_TENANT_ID, write=False) as session:
            page = service.list_tasks(session, query)
        return Response(PAGE_ADAPTER.dump_json(page), media_type="application/json")

    async def lean(request: Request, query: Annotated[TaskFilter, Query()]) -> Response:
        page = lean_list_tasks(state(request).db.engine, query)
        return Response(PAGE_ADAPTER.dump_json(page), media_type="application/json")

    async def raw(request: Request, query: Annotated[TaskFilter, Query()]) -> Response:
        page = raw_list_tasks(state(request).db.engine, query)
        return Response(PAGE_ADAPTER.dump_json(page), media_type="application/json")

    def raw_sync(request: Request, query: Annotated[TaskFilter, Query()]) -> Response:
        page = raw_list_tasks(state(request).db.engine, query)
        return Response(PAGE_ADAPTER.dump_json(page), media_type="application/json")

    cache: dict[str, bytes] = {}

    async def ceiling(request: Request) -> Response:
        # A perfect cache: what uvicorn + FastAPI cost per request with no work at all.
        body = cache.get(request.url.query)
        if body is None:
            query = TaskFilter.model_validate(dict(request.query_params))
            body = PAGE_ADAPTER.dump_json(lean_list_tasks(state(request).db.engine, query))
            cache[request.url.query] = body
        return Response(body, media_type="application/json")

    endpoints: dict[str, Callable[..., Any]] = {
        "no-dep": no_dep,
        "response": as_response,
        "async": as_async,
        "lean": lean,
        "raw": raw,
        "raw-sync": raw_sync,
        "ceiling": ceiling,
    }
    app.add_api_route("/api/v1/tasks", endpoints[variant.removesuffix("-1")], methods=["GET"])
    app.router.routes.insert(0, app.router.routes.pop())  # match before the product route
    return ThreadLimit(app, 1) if variant.endswith("-1") else app


def serve_variant(variant: str) -> None:
    """Serve one variant like `missionctl up` does (uvicorn, one process, no access log)."""
    uvicorn.run(
        variant_app(variant),
        host=HOST,
        port=int(os.environ["MISSIONCTL_PORT"]),
        log_level="warning",
        access_log=False,
    )


def load_variants(
    workdir: Path, env: dict[str, str], opts: Options, variants: Sequence[str]
) -> list[dict[str, Any]]:
    """Each variant under wrk load; CPU per request from /proc and getrusage."""
    wrk = ensure_wrk()
    statuses = list(STATUS_WEIGHTS)
    paths = ", ".join(f'"/api/v1/tasks?limit={PAGE}&status={s}"' for s in statuses)
    script = workdir / "board_list.lua"
    script.write_text(WRK_SCRIPT % {"paths": paths})
    processes = Processes()
    results = []
    try:
        for variant in variants:
            port = free_port()
            base = f"http://{HOST}:{port}"
            log = workdir / f"variant-{variant}.log"
            command = [sys.executable, __file__, "--serve", variant]
            proc = processes.start(command, env={**env, "MISSIONCTL_PORT": str(port)}, log=log)
            try:
                wait_ready(proc, base, log)
                run_wrk(wrk, script, base, opts, opts.warmup)
                before = cpu_sample(proc.pid)
                raw = run_wrk(wrk, script, base, opts, opts.duration)
                after = cpu_sample(proc.pid)
            finally:
                processes.stop(proc)
            seconds = raw["duration_us"] / 1e6
            requests = max(1, int(raw["requests"]))
            cpu = cpu_usage(before, after, seconds, requests)
            results.append(
                {
                    "variant": variant,
                    "p50_ms": round(raw["p50_us"] / 1000, 1),
                    "p95_ms": round(raw["p95_us"] / 1000, 1),
                    "p99_ms": round(raw["p99_us"] / 1000, 1),
                    "rps": round(requests / seconds, 1),
                    "server_cpu_ms_per_request": cpu.server_cpu_ms_per_request,
                    "server_cores": cpu.server_cores,
                    "wrk_cores": cpu.wrk_cores,
                    "other_cores": cpu.other_cores,
                    "errors": sum(int(v) for v in raw["errors"].values()),
                }
            )
            print(f"  {results[-1]}", flush=True)
    finally:
        processes.stop_all()
    return results


# --------------------------------------------------------------------------- part 1


def _show(name: str, figure: dict[str, float]) -> None:
    print(
        f"  {name:<50}{figure['median_us']:>9,.0f}{figure['best_block_median_us']:>9,.0f}"
        f"{figure['cpu_us']:>9,.0f}",
        flush=True,
    )


def in_process(url: str, iterations: int) -> dict[str, dict[str, float]]:
    """Time each piece of one request, single-threaded, on the seeded database."""
    settings = load_settings()
    db = open_database(settings)
    app = create_app(settings, db)
    status = "in_progress"
    task_filter = TaskFilter.model_validate({"status": status, "limit": PAGE})
    figures: dict[str, dict[str, float]] = {}
    print(f"  {'(µs per request)':<50}{'median':>9}{'best':>9}{'CPU':>9}")

    def record(name: str, fn: Callable[[], object]) -> None:
        figures[name] = timeit(fn, iterations)
        _show(name, figures[name])

    # The floor: the three statements the route runs, through the stdlib driver.
    raw = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    tenant = DEFAULT_TENANT_ID.hex
    page_sql = (
        f"SELECT {', '.join(TASK_KEYS)} FROM tasks WHERE status = ? AND tenant_id = ? "
        f"ORDER BY task_id DESC LIMIT {PAGE + 1}"
    )
    ids_hex = [row[0] for row in raw.execute(page_sql, (status, tenant)).fetchall()[:PAGE]]
    marks = ",".join("?" * len(ids_hex))
    assignees_sql = (
        f"SELECT task_id, agent_id FROM task_assignees WHERE task_id IN ({marks}) "
        "AND tenant_id = ? ORDER BY assigned_at, agent_id"
    )
    dependencies_sql = (
        f"SELECT task_id, depends_on_task_id FROM task_dependencies WHERE task_id IN ({marks}) "
        "AND tenant_id = ? ORDER BY depends_on_task_id"
    )

    def floor() -> None:
        raw.execute("BEGIN")
        raw.execute(page_sql, (status, tenant)).fetchall()
        raw.execute(assignees_sql, (*ids_hex, tenant)).fetchall()
        raw.execute(dependencies_sql, (*ids_hex, tenant)).fetchall()
        raw.execute("COMMIT")

    print("service")
    record("SQL floor: the 3 statements via stdlib sqlite3", floor)

    def whole_service() -> Page[Task]:
        with db.transaction(DEFAULT_TENANT_ID, write=False) as s:
            return service.list_tasks(s, task_filter)

    record("list_tasks + its unit of work (as the route)", whole_service)

    def unit_of_work() -> None:
        with db.transaction(DEFAULT_TENANT_ID, write=False) as s:
            s.execute(select(literal(1))).all()

    record("  unit of work: session, pool, BEGIN/COMMIT", unit_of_work)

    def page_query() -> Any:
        return (
            select(*service.TASK_COLUMNS)
            .where(TaskRow.status == status)
            .order_by(TaskRow.task_id.desc())
            .limit(PAGE + 1)
        )

    session = db._read()
    session.info["tenant_id"] = DEFAULT_TENANT_ID
    session.begin()
    record(
        "  page query via ORM session (as list_tasks)", lambda: session.execute(page_query()).all()
    )
    connection = session.connection()
    core_columns = [TASKS_T.c[key] for key in TASK_KEYS]
    core_query = (
        select(*core_columns)
        .where(TASKS_T.c.status == status, TASKS_T.c.tenant_id == DEFAULT_TENANT_ID)
        .order_by(TASKS_T.c.task_id.desc())
        .limit(PAGE + 1)
    )
    record("    alt: Core, same connection", lambda: connection.execute(core_query).all())
    untyped = core_query.with_only_columns(*[type_coerce(c, String) for c in core_columns])
    record("    alt: Core, no UUID/datetime conversion", lambda: connection.execute(untyped).all())
    rows = session.execute(page_query()).all()[:PAGE]
    record("  _assemble: 2 IN queries + 50 Task models", lambda: service._assemble(session, rows))
    ids = [row.task_id for row in rows]

    def in_queries() -> None:
        session.execute(
            select(TaskAssigneeRow.task_id, TaskAssigneeRow.agent_id)
            .where(TaskAssigneeRow.task_id.in_(ids))
            .order_by(TaskAssigneeRow.assigned_at, TaskAssigneeRow.agent_id)
        ).all()
        session.execute(
            select(TaskDependencyRow.task_id, TaskDependencyRow.depends_on_task_id)
            .where(TaskDependencyRow.task_id.in_(ids))
            .order_by(TaskDependencyRow.depends_on_task_id)
        ).all()

    record("    the 2 IN queries via ORM session", in_queries)
    empty: list[uuid.UUID] = []

    def build_dicts() -> list[dict[str, Any]]:
        out = []
        for row in rows:
            fields = {column.key: getattr(row, column.key) for column in service.TASK_COLUMNS}
            fields["assignee_ids"] = empty
            fields["depends_on"] = empty
            out.append(fields)
        return out

    record("    50 dicts via the column.key/getattr loop", build_dicts)
    dicts = build_dicts()
    record("    Task.model_validate x 50", lambda: [Task.model_validate(d) for d in dicts])
    record(
        "    alt: 50 dicts via row._asdict()",
        lambda: [{**row._asdict(), "assignee_ids": empty, "depends_on": empty} for row in rows],
    )
    record(
        "    alt: one TASKS_ADAPTER.validate_python", lambda: TASKS_ADAPTER.validate_python(dicts)
    )
    record("    alt: Task.model_construct x 50", lambda: [Task.model_construct(**d) for d in dicts])
    record(
        "  list_tasks in an open session (no unit of work)",
        lambda: service.list_tasks(session, task_filter),
    )
    session.rollback()
    session.close()
    record(
        "lean list_tasks (Core, batch validation)", lambda: lean_list_tasks(db.engine, task_filter)
    )
    record(
        "raw list_tasks (DBAPI, pydantic parses)", lambda: raw_list_tasks(db.engine, task_filter)
    )
    expected = PAGE_ADAPTER.dump_json(whole_service())
    for name, fn in (("lean", lean_list_tasks), ("raw", raw_list_tasks)):
        same = PAGE_ADAPTER.dump_json(fn(db.engine, task_filter)) == expected
        print(f"  {name} output byte-identical to the product's: {'yes' if same else 'NO'}")

    print("response")
    page = whole_service()
    route = next(r for r in tasks_router.routes if isinstance(r, APIRoute) and r.path == "/tasks")
    field = route.response_field
    assert field is not None
    record("FastAPI re-validation of the returned Page[Task]", lambda: field.validate(page, {}))
    record("FastAPI dump_json of the page", lambda: field.serialize_json(page))

    async def asgi_part() -> None:
        caller = AsgiCaller(app)
        query = f"limit={PAGE}&status={status}"
        code, body = await caller.get("/api/v1/tasks", query)
        if code != 200 or len(json.loads(body)["items"]) != PAGE:
            raise RuntimeError(f"in-process GET answered {code}: {body[:200]!r}")

        async def hop() -> None:
            await anyio.to_thread.run_sync(lambda: None)

        print("framework")
        steps: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("thread-pool hop (idle; the route makes 3)", hop),
            (
                "GET /api/v1/health in process (sync, 1 hop)",
                lambda: caller.get("/api/v1/health", ""),
            ),
            (
                "GET /api/v1/tasks in process (ASGI, no socket)",
                lambda: caller.get("/api/v1/tasks", query),
            ),
        ]
        for name, fn in steps:
            figures[name] = await time_async(fn, iterations)
            _show(name, figures[name])

    try:
        import uvloop

        uvloop.run(asgi_part())
    except ImportError:
        asyncio.run(asgi_part())
    db.dispose()
    return figures


def http_sequential(env: dict[str, str], workdir: Path, iterations: int) -> dict[str, float]:
    """One client, keep-alive, against `missionctl up --no-demo`: latency with no queueing."""
    import http.client

    processes = Processes()
    port = free_port()
    log = workdir / "server-sequential.log"
    proc = processes.start(
        [missionctl_bin(), "up", "--no-demo"], env={**env, "MISSIONCTL_PORT": str(port)}, log=log
    )
    try:
        wait_ready(proc, f"http://{HOST}:{port}", log)
        conn = http.client.HTTPConnection(HOST, port, timeout=10)

        def one() -> None:
            conn.request("GET", f"/api/v1/tasks?limit={PAGE}&status=in_progress")
            response = conn.getresponse()
            response.read()

        return timeit(one, iterations)
    finally:
        processes.stop_all()


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Seed once, time the pieces, then load the variants."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=300, help="runs per in-process timing")
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per variant")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--no-load", action="store_true", help="skip part 2")
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve_variant(args.serve)
        return 0
    opts = Options(
        tasks=args.tasks,
        duration=args.duration,
        connections=args.connections,
        threads=1,
        warmup=3,
        agents=6,
        seed=42,
        keep=False,
    )
    with workspace(keep=False) as workdir:
        data_dir = workdir / "data"
        env = {
            **os.environ,
            "MISSIONCTL_DATA_DIR": str(data_dir),
            "MISSIONCTL_HOST": HOST,
            "MISSIONCTL_LOG_LEVEL": "warning",
        }
        env.pop("MISSIONCTL_DATABASE_URL", None)
        os.environ.update({k: env[k] for k in ("MISSIONCTL_DATA_DIR", "MISSIONCTL_LOG_LEVEL")})
        subprocess.run([missionctl_bin(), "db", "upgrade"], env=env, check=True, timeout=120)
        url = f"sqlite:///{data_dir / 'missionctl.db'}"
        stats = seed_database(url, opts)
        print(f"seeded {stats.tasks:,} tasks in {stats.seconds:.1f} s")
        print("part 1: one request at a time, in process")
        busy_before, own_before, wall_before = (
            machine_busy_seconds(),
            time.process_time(),
            time.monotonic(),
        )
        figures = in_process(url, args.iterations)
        other_cores = (
            (machine_busy_seconds() - busy_before) - (time.process_time() - own_before)
        ) / (time.monotonic() - wall_before)
        print(f"  other processes used {max(0.0, other_cores):.2f} cores during part 1")
        sequential = http_sequential(env, workdir, args.iterations)
        figures["GET /api/v1/tasks over HTTP, 1 client, `up`"] = sequential
        _show("GET /api/v1/tasks over HTTP, 1 client, `up`", sequential)
        print("  (CPU over HTTP is the client's own; compare the medians)")
        load: list[dict[str, Any]] = []
        if not args.no_load:
            print(
                f"part 2: variants under load ({args.connections} connections, {args.duration} s)"
            )
            load = load_variants(workdir, env, opts, args.variants.split(","))
    facts = machine_facts(ensure_wrk())
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"profile_board_list-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "machine": facts,
                "tasks": args.tasks,
                "in_process": figures,
                "in_process_other_cores": round(max(0.0, other_cores), 2),
                "load": load,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
