"""The engine's processes, for real: `missionctl worker` and `missionctl scheduler` as subprocesses,
killed with SIGKILL at random moments, stopped with SIGTERM, several at once on one database."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from missionctl import migrations
from missionctl.bootstrap import build_registry
from missionctl.common import Actor
from missionctl.db import Database, make_engine, utcnow
from missionctl.engine import schedules, service
from missionctl.engine.registry import JobRegistry
from missionctl.engine.schemas import JobFilter, ScheduleCreate
from missionctl.engine.service import NewJob
from missionctl.settings import load_settings
from tests.conftest import BACKENDS, fresh_database
from tests.engine.conftest import effects, wait_until
from tests.engine.plugin import EFFECTS_DDL

MISSIONCTL = Path(sys.executable).parent / "missionctl"
REPO = Path(__file__).resolve().parents[2]


# A condition that waits for a process to start: on a busy 2-core machine (another test's
# processes importing at the same time) a cold start alone can take most of 20 s.
STARTUP_SECONDS = 60.0


@dataclass
class Cluster:
    """A migrated database of its own and the engine processes started on it."""

    url: str
    workdir: Path
    db: Database
    bytecode: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MISSIONCTL_")}
        env.update(
            PYTHONPATH=str(REPO),
            MISSIONCTL_DATABASE_URL=self.url,
            MISSIONCTL_DATA_DIR=str(self.workdir / "data"),
            MISSIONCTL_SECRET_KEY="k" * 48,
            MISSIONCTL_PLUGINS="tests.engine.plugin",
            MISSIONCTL_JOB_LEASE_SECONDS="1",
            MISSIONCTL_JOB_POLL_SECONDS="0.1",
            MISSIONCTL_LOG_LEVEL="warning",
            # Compiled once for every process of the session (PYTHONDONTWRITEBYTECODE is
            # common in containers, and each process would compile FastAPI and SQLAlchemy).
            PYTHONPYCACHEPREFIX=str(self.bytecode),
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(extra)
        return env

    def start(self, *args: str, **extra_env: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [str(MISSIONCTL), *args],
            cwd=self.workdir,
            env=self.env(**extra_env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
            if process.stderr:
                process.stderr.close()

    def statuses(self) -> Counter[str]:
        with self.db.engine.connect() as connection:
            rows = connection.execute(text("SELECT status, count(*) FROM jobs GROUP BY status"))
            return Counter({row[0]: row[1] for row in rows})

    def worker_pids(self) -> list[int]:
        """Pids of the workers that registered (they are claiming jobs)."""
        with self.db.engine.connect() as connection:
            rows = connection.execute(text("SELECT pid FROM workers WHERE role = 'worker'"))
            return [row[0] for row in rows]

    def leaders(self) -> list[int]:
        """Pids of the schedulers that say they lead and are alive."""
        with self.db.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT pid FROM workers WHERE role = 'scheduler' AND is_leader "
                    "AND stopped_at IS NULL"
                )
            )
            pids = [row[0] for row in rows]
        return [
            pid for pid in pids if any(p.pid == pid and p.poll() is None for p in self.processes)
        ]


@pytest.fixture(scope="session")
def bytecode(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the subprocesses cache bytecode: pytest's cache dir, outside the source tree."""
    cache = getattr(request.config, "cache", None)
    if cache is None:
        return tmp_path_factory.mktemp("pycache")
    return Path(cache.mkdir("missionctl-pycache"))


@contextmanager
def cluster_on(kind: str, workdir: Path, bytecode: Path) -> Iterator[Cluster]:
    """A fresh database of `kind`, migrated, with the effects table; its processes stopped after."""
    with fresh_database(kind, workdir) as url:
        db = Database(make_engine(url, pool_size=4))
        migrations.upgrade(db.engine)
        with db.engine.begin() as connection:
            connection.execute(text(EFFECTS_DDL))
        cluster = Cluster(url=url, workdir=workdir, db=db, bytecode=bytecode)
        try:
            yield cluster
        finally:
            cluster.stop_all()
            db.dispose()


@pytest.fixture(params=BACKENDS)
def cluster(request: pytest.FixtureRequest, tmp_path: Path, bytecode: Path) -> Iterator[Cluster]:
    """A cluster on each kind of database."""
    with cluster_on(request.param, tmp_path, bytecode) as cluster:
        yield cluster


def _enqueue(db: Database, jobs: list[NewJob]) -> None:
    with db.transaction() as session:
        service.enqueue_many(session, jobs)


MAX_KILLS = 8


def test_workers_killed_at_random_moments_lose_and_double_nothing(cluster: Cluster) -> None:
    atomic = [NewJob("test.effect", max_attempts=100) for _ in range(500)]
    stepped = [
        NewJob("test.steps", {"steps": 3, "sleep": 0.05}, max_attempts=100) for _ in range(500)
    ]
    _enqueue(cluster.db, atomic + stepped)
    cluster.start("scheduler")  # reaps the leases of killed workers
    workers = [cluster.start("worker", "--concurrency", "4") for _ in range(2)]
    rng = random.Random(20261130)
    kills = 0
    deadline = time.monotonic() + 300
    while cluster.statuses()["succeeded"] < 1000:
        assert time.monotonic() < deadline, cluster.statuses()
        if kills == MAX_KILLS:
            time.sleep(0.2)
            continue
        # Kill the oldest worker at a random moment once it is working, start another.
        victim = workers[0]
        wait_until(
            lambda victim=victim: victim.pid in cluster.worker_pids(), timeout=STARTUP_SECONDS
        )
        time.sleep(rng.uniform(0.3, 1.2))
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        workers = [*workers[1:], cluster.start("worker", "--concurrency", "4")]
        kills += 1
    rows = effects(cluster.db)
    per_effect = Counter((job_id, step) for job_id, step, _worker, _attempt in rows)
    assert len(per_effect) == 500 + 500 * 3  # every effect happened …
    assert set(per_effect.values()) == {1}  # … exactly once
    with cluster.db.engine.connect() as connection:
        retried = connection.execute(text("SELECT count(*) FROM jobs WHERE attempts > 1")).scalar()
    assert kills >= 3
    assert retried, "no kill landed while a job ran: the test proved nothing"


@pytest.mark.postgres
def test_four_workers_share_ten_thousand_jobs_and_none_runs_twice(
    tmp_path: Path, bytecode: Path
) -> None:
    with cluster_on("postgres", tmp_path, bytecode) as cluster:
        _enqueue(cluster.db, [NewJob("test.effect") for _ in range(10_000)])
        for _ in range(4):
            cluster.start("worker", "--concurrency", "4")
        wait_until(lambda: cluster.statuses()["succeeded"] == 10_000, timeout=180, interval=0.5)
        rows = effects(cluster.db)
    assert len(rows) == 10_000
    assert len({row[0] for row in rows}) == 10_000  # no job's effect twice
    assert {row[3] for row in rows} == {1}  # every job claimed once
    by_worker = Counter(row[2] for row in rows)
    assert len(by_worker) == 4 and min(by_worker.values()) > 0, by_worker


def test_sigterm_hands_back_running_jobs_and_exits_cleanly(cluster: Cluster) -> None:
    _enqueue(cluster.db, [NewJob("test.slow", {"seconds": 30}) for _ in range(2)])
    worker = cluster.start("worker", "--concurrency", "2", MISSIONCTL_SHUTDOWN_GRACE_SECONDS="0.5")
    wait_until(lambda: cluster.statuses()["running"] == 2, timeout=STARTUP_SECONDS)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0
    assert cluster.statuses() == Counter({"queued": 2})
    with cluster.db.engine.connect() as connection:
        owners = connection.execute(text("SELECT attempts, lease_owner FROM jobs")).all()
    assert [tuple(row) for row in owners] == [(0, None), (0, None)]


def _schedulers_alive(cluster: Cluster) -> int:
    return sum(1 for p in cluster.processes if p.poll() is None and "scheduler" in str(p.args))


def test_one_scheduler_leads_and_a_standby_takes_over_when_it_is_killed(cluster: Cluster) -> None:
    first = cluster.start("scheduler")
    wait_until(lambda: cluster.leaders() == [first.pid], timeout=STARTUP_SECONDS)
    second = cluster.start("scheduler")
    wait_until(lambda: second.pid in _registered_schedulers(cluster), timeout=STARTUP_SECONDS)
    time.sleep(1.5)  # the standby had time to try, and must not lead
    assert cluster.leaders() == [first.pid]
    first.send_signal(signal.SIGKILL)
    first.wait()
    wait_until(lambda: cluster.leaders() == [second.pid], timeout=15)


def _registered_schedulers(cluster: Cluster) -> list[int]:
    with cluster.db.engine.connect() as connection:
        rows = connection.execute(text("SELECT pid FROM workers WHERE role = 'scheduler'"))
        return [row[0] for row in rows]


def test_a_scheduler_killed_mid_minute_neither_skips_nor_doubles_a_firing(
    cluster: Cluster,
) -> None:
    # The scaled-down minute: a schedule firing every second, a scheduler killed between two
    # firings and replaced a few seconds later.
    with cluster.db.transaction() as session:
        schedule = schedules.create_schedule(
            session,
            ScheduleCreate(name="every-second", cron="* * * * * *", kind="test.tick"),
            actor=Actor.system(),
            registry=_registry(),
        )
    assert schedule.next_run_at is not None
    cluster.start("worker", "--concurrency", "2")
    scheduler = cluster.start("scheduler")
    wait_until(lambda: len(effects(cluster.db)) >= 3, timeout=STARTUP_SECONDS)
    time.sleep(random.uniform(0.1, 0.9))
    scheduler.send_signal(signal.SIGKILL)
    scheduler.wait()
    time.sleep(2.5)  # firings fall due while nobody schedules
    cluster.start("scheduler")
    killed_at = utcnow()
    wait_until(lambda: _fired(cluster) and max(_fired(cluster)) > killed_at + timedelta(seconds=3))
    fired = _fired(cluster)
    expected = [min(fired) + timedelta(seconds=n) for n in range(len(fired))]
    assert fired == expected  # one firing per second: none skipped, none twice
    ticks = Counter(row[1] for row in effects(cluster.db))
    assert set(ticks.values()) == {1}


def _fired(cluster: Cluster) -> list[datetime]:
    """The firing times of the test.tick jobs enqueued so far, in order."""
    with cluster.db.transaction(write=False) as session:
        jobs = service.list_jobs(session, JobFilter(kind="test.tick", limit=200)).items
    return sorted(job.scheduled_for for job in jobs if job.scheduled_for is not None)


def _registry() -> JobRegistry:
    return build_registry(load_settings(secret_key="k" * 48, plugins=["tests.engine.plugin"]))


def test_a_job_enqueued_elsewhere_wakes_an_idle_worker_without_waiting_for_the_poll(
    cluster: Cluster,
) -> None:
    cluster.start("worker", "--concurrency", "1", MISSIONCTL_JOB_POLL_SECONDS="60")
    wait_until(lambda: _registered_workers(cluster) == 1, timeout=STARTUP_SECONDS)
    time.sleep(0.5)  # idle now, asleep until a signal or a minute from now
    with cluster.db.transaction() as session:
        job_id = service.enqueue(session, "test.effect")
    # Another process enqueued it: only NOTIFY (PostgreSQL) or data_version (SQLite) can wake
    # the worker before its minute-long poll.
    wait_until(lambda: len(effects(cluster.db)) == 1, timeout=10)
    assert effects(cluster.db)[0][0] == str(job_id)


def _registered_workers(cluster: Cluster) -> int:
    with cluster.db.engine.connect() as connection:
        return int(
            connection.execute(text("SELECT count(*) FROM workers WHERE role = 'worker'")).scalar()
            or 0
        )
