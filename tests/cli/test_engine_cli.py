"""`missionctl jobs …`, `missionctl worker`, and the engine inside `missionctl up`, as processes."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from missionctl.bootstrap import open_database
from missionctl.db import Database
from missionctl.engine import queue, service
from missionctl.engine.processes import list_processes
from missionctl.engine.schemas import JobStatus
from missionctl.settings import load_settings
from tests.cli.conftest import Cli, StartUp, as_json, failed, items, make_cli, succeeded


@pytest.fixture(scope="module")
def jobs_dir(tmp_path_factory: pytest.TempPathFactory, bytecode_cache: Path) -> Cli:
    """A migrated data directory with a waiting job, a succeeded one and a dead one."""
    cli = make_cli(tmp_path_factory.mktemp("jobs"), bytecode_cache)
    succeeded(cli("db", "upgrade"))
    return cli


def database(cli: Cli) -> Database:
    return open_database(load_settings(data_dir=cli.data_dir, secret_key="x" * 48))


def make_jobs(cli: Cli) -> dict[str, str]:
    """One job in each of the states the commands act on; kind → id."""
    db = database(cli)
    try:
        with db.transaction() as session:
            waiting = service.enqueue(session, "report.build", {"week": 48}, delay_seconds=3600)
            done = service.enqueue(session, "report.build", {"week": 47})
            dead = service.enqueue(session, "report.send", {"to": "ops"}, max_attempts=1)
        with db.connect() as conn:
            by_id = {
                job.job_id: job
                for job in queue.claim(
                    conn, "cli-test/1", {"report.build": 3, "report.send": 3}, 5, 60
                )
            }
            queue.finish(conn, by_id[done], JobStatus.SUCCEEDED, result={"pages": 3})
            queue.finish(
                conn,
                by_id[dead],
                JobStatus.DEAD,
                error="SMTPError: refused",
                traceback="Traceback …",
            )
    finally:
        db.dispose()
    return {"waiting": str(waiting), "done": str(done), "dead": str(dead)}


def test_jobs_list_show_and_the_dead_letters(jobs_dir: Cli) -> None:
    ids = make_jobs(jobs_dir)
    listed = as_json(jobs_dir("jobs", "list", "--json"))
    assert {job["job_id"] for job in listed} >= set(ids.values())
    dead = as_json(jobs_dir("jobs", "list", "--status", "dead", "--json"))
    assert [job["job_id"] for job in dead] == [ids["dead"]]
    table = succeeded(jobs_dir("jobs", "list", "--status", "dead"))
    assert "SMTPError: refused" in table and "1/1" in table
    shown = succeeded(jobs_dir("jobs", "show", ids["dead"]))
    assert "report.send" in shown and "Traceback …" in shown
    assert as_json(jobs_dir("jobs", "show", ids["done"], "--json"))["result"] == {"pages": 3}
    summary = as_json(jobs_dir("jobs", "summary", "--json"))
    counts = {(c["kind"], c["status"]): c["count"] for c in summary["counts"]}
    assert counts[("report.send", "dead")] >= 1


def test_jobs_retry_cancel_and_discard(jobs_dir: Cli) -> None:
    ids = make_jobs(jobs_dir)
    assert succeeded(jobs_dir("jobs", "retry", ids["dead"])).strip() == (
        f"job {ids['dead']} (report.send) is queued"
    )
    assert as_json(jobs_dir("jobs", "cancel", ids["waiting"], "--json"))["status"] == "cancelled"
    assert "cannot go from succeeded to discarded" in failed(
        jobs_dir("jobs", "discard", ids["done"]), 4
    )
    assert "not found" in failed(jobs_dir("jobs", "retry", str(uuid.uuid4())), 3)
    failed(jobs_dir("jobs", "show", "not-a-uuid"), 2)
    assert "tenant nowhere not found" in failed(jobs_dir("jobs", "list", "--tenant", "nowhere"), 3)


def test_a_worker_refuses_unknown_kinds_and_an_unmigrated_database(
    jobs_dir: Cli, fresh: Cli
) -> None:
    assert "unknown job kind(s): nope" in failed(jobs_dir("worker", "--kind", "nope"), 2)
    assert "db upgrade" in failed(fresh("worker"), 5)
    assert "db upgrade" in failed(fresh("scheduler"), 5)


def test_up_runs_the_worker_and_the_scheduler_in_its_one_process(
    fresh: Cli, start_up: StartUp
) -> None:
    server = start_up(fresh)
    deadline = time.monotonic() + 20
    heartbeats: list[dict[str, object]] = []
    while len(heartbeats) < 4 and time.monotonic() < deadline:
        # The scheduler wakes each demo agent at once; the worker runs the heartbeats.
        heartbeats = items(server, "/jobs", kind="agent.heartbeat", status="succeeded")
        time.sleep(0.2)
    assert len(heartbeats) == 4
    processes = server.api.get("/workers").json()
    assert {(p["role"], p["pid"]) for p in processes} == {
        ("worker", server.process.pid),
        ("scheduler", server.process.pid),
    }
    assert next(p for p in processes if p["role"] == "scheduler")["is_leader"] is True
    agents = items(server, "/agents")
    assert all(agent["last_heartbeat_at"] for agent in agents)
    assert server.stop() in {0, -15}
    db = database(fresh)
    try:
        with db.transaction(None, write=False) as session:
            assert all(p.stopped_at is not None for p in list_processes(session))
    finally:
        db.dispose()


def test_sigterm_ends_live_streams_at_once_instead_of_waiting_them_out(
    fresh: Cli, start_up: StartUp
) -> None:
    server = start_up(fresh, "--no-demo")
    token = server.api.headers["Authorization"].removeprefix("Bearer ")
    base = str(server.api.base_url).rstrip("/")
    ws_url = base.replace("http://", "ws://") + f"/ws/events?access_token={token}"
    ended: dict[str, object] = {}

    def read_sse() -> None:
        with httpx.stream(
            "GET", f"{base}/events/stream", params={"access_token": token}, timeout=30
        ) as response:
            for _line in response.iter_lines():
                pass
        ended["sse"] = time.monotonic()

    with connect(ws_url, open_timeout=10) as websocket:
        reader = threading.Thread(target=read_sse, daemon=True)
        reader.start()
        time.sleep(1.0)  # both streams joined
        stopped_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=10)
        server.process.wait(timeout=10)
        reader.join(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    assert "sse" in ended and float(ended["sse"]) - stopped_at < 3  # not the 5 s grace timeout
    assert time.monotonic() - stopped_at < 8
    assert "Exception in ASGI application" not in server.output()
    assert "timeout graceful shutdown exceeded" not in server.output()
