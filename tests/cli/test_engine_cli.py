"""`missionctl jobs …`, `missionctl worker`, and the engine inside `missionctl up`, as processes."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

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
