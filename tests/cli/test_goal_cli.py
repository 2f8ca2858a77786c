"""`missionctl goal "text" --wait`: live progress until the goal is done or needs a person.

The command runs as a real process; the test plays the agents, moving the goal's subtasks through
the board services on the same SQLite database while the command watches.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from missionctl.agents.schemas import AgentCreate, AgentStatus
from missionctl.agents.service import create_agent, record_heartbeat
from missionctl.board.schemas import (
    TaskAssign,
    TaskCreate,
    TaskFilter,
    TaskStatus,
    TaskStatusChange,
)
from missionctl.board.service import assign_task, change_status, create_task, get_task, list_tasks
from missionctl.bootstrap import open_database
from missionctl.common import Actor
from missionctl.db import Database
from missionctl.documents.schemas import DocumentCreate
from missionctl.documents.service import create_document
from missionctl.engine.processes import list_processes, mark_stopped, register_process
from missionctl.engine.schemas import WorkerRole
from missionctl.identity.service import ensure_tenant
from missionctl.models.models import UsageRow
from missionctl.settings import load_settings
from tests.cli.conftest import COMMAND_TIMEOUT, MISSIONCTL, Cli, failed, make_cli, succeeded

ID = r"[0-9a-f-]{36}"
API = "http://127.0.0.1:8000/api/v1"


def open_db(cli: Cli) -> Database:
    return open_database(load_settings(data_dir=cli.data_dir, secret_key="x" * 48))


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, bytecode_cache: Path) -> Iterator[Team]:
    """A migrated data directory with an orchestrator, a researcher and a writer."""
    cli = make_cli(tmp_path_factory.mktemp("goals"), bytecode_cache)
    succeeded(cli("db", "upgrade"))
    db = open_db(cli)
    with db.transaction() as session:
        agents = {
            name: create_agent(session, AgentCreate(name=name, role=name), actor=Actor.user())
            for name in ("orchestrator", "researcher", "writer")
        }
    yield Team(cli, db, {name: agent.agent_id for name, agent in agents.items()})
    db.dispose()


class Team:
    """The data directory, a handle on its database, and the agents' ids by name."""

    def __init__(self, cli: Cli, db: Database, agents: dict[str, uuid.UUID]) -> None:
        self.cli, self.db, self.agents = cli, db, agents

    def act(self, name: str) -> Actor:
        return Actor.agent(self.agents[name])


@pytest.fixture
def worker_alive(team: Team) -> Iterator[None]:
    """A worker process registered as alive (so the command runs no agents of its own)."""
    worker_id = f"test-worker-{uuid.uuid4().hex[:6]}"
    with team.db.transaction(None) as session:
        register_process(session, worker_id, WorkerRole.WORKER, concurrency=1, kinds=[])
    yield
    with team.db.transaction(None) as session:
        mark_stopped(session, worker_id)


class Follow:
    """A running `missionctl goal …`, its output read line by line as it comes."""

    def __init__(self, cli: Cli, *args: str) -> None:
        self.process = subprocess.Popen(
            [str(MISSIONCTL), "goal", *args],
            cwd=cli.workdir,
            env=cli.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._fresh: dict[str, queue.SimpleQueue[str | None]] = {}
        for name, stream, seen in (
            ("out", self.process.stdout, self.out),
            ("err", self.process.stderr, self.err),
        ):
            self._fresh[name] = queue.SimpleQueue()
            threading.Thread(
                target=self._read, args=(stream, seen, self._fresh[name]), daemon=True
            ).start()

    @staticmethod
    def _read(
        stream: IO[str] | None, seen: list[str], fresh: queue.SimpleQueue[str | None]
    ) -> None:
        assert stream is not None
        for line in stream:
            seen.append(line.rstrip("\n"))
            fresh.put(line.rstrip("\n"))
        fresh.put(None)

    def expect(self, pattern: str, stream: str = "out", timeout: float = 60) -> re.Match[str]:
        """The next line (skipping others) that matches `pattern`; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._fresh[stream].get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            if match := re.search(pattern, line):
                return match
        self.process.kill()
        pytest.fail(f"no line matching {pattern!r}:\n" + "\n".join(self.out + self.err))

    def wait(self) -> int:
        """The exit status, once the command ended and its output was read."""
        try:
            code = self.process.wait(timeout=COMMAND_TIMEOUT)
            for fresh in self._fresh.values():
                while fresh.get(timeout=10) is not None:
                    pass
        finally:
            self.close()
        return code

    def close(self) -> None:
        """Kill the command if it still runs, and close its pipes."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


Start = Callable[..., Follow]


@pytest.fixture
def start(team: Team) -> Iterator[Start]:
    """Start `missionctl goal …` on the team's data directory; killed and closed after the test."""
    started: list[Follow] = []

    def run(*args: str) -> Follow:
        started.append(Follow(team.cli, *args))
        return started[-1]

    yield run
    for follow in started:
        follow.close()


def _move(team: Team, task_id: uuid.UUID, name: str, *statuses: TaskStatus) -> None:
    with team.db.transaction() as session:
        for status in statuses:
            change_status(session, task_id, TaskStatusChange(status=status), actor=team.act(name))


def _plan(team: Team, goal_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """What the orchestrator does: two subtasks, one depending on the other."""
    boss = team.act("orchestrator")
    with team.db.transaction() as session:
        research = create_task(
            session,
            TaskCreate(
                title="Research the market",
                parent_task_id=goal_id,
                assignee_ids=[team.agents["researcher"]],
            ),
            actor=boss,
        )
        draft = create_task(
            session,
            TaskCreate(
                title="Draft the brief",
                parent_task_id=goal_id,
                assignee_ids=[team.agents["writer"]],
                depends_on=[research.task_id],
            ),
            actor=boss,
        )
    return research.task_id, draft.task_id


def _research(team: Team, task_id: uuid.UUID) -> None:
    """The researcher starts, and pays for one model request."""
    agent_id = team.agents["researcher"]
    with team.db.transaction() as session:
        record_heartbeat(session, agent_id, status=AgentStatus.ACTIVE, current_task_id=task_id)
        change_status(
            session,
            task_id,
            TaskStatusChange(status=TaskStatus.IN_PROGRESS),
            actor=team.act("researcher"),
        )
        session.add(
            UsageRow(
                task_id=task_id,
                agent_id=agent_id,
                alias="fast",
                deployment="gpt",
                provider="openai",
                model="gpt-4o-mini",
                input_tokens=1000,
                output_tokens=200,
                cost_nanos=1_500_000,
                outcome="ok",
            )
        )


def test_wait_follows_a_goal_to_done_and_says_where_the_results_are(
    team: Team, worker_alive: None, start: Start
) -> None:
    follow = start("Write the launch brief\nTwo pages.", "--wait", "--timeout", "120")
    goal_id = uuid.UUID(
        follow.expect(rf"^created goal ({ID}) in inbox: Write the launch brief$")[1]
    )
    follow.expect(
        r"^\[\d\d:\d\d\] goal inbox \| no subtasks yet \| no agents yet \| "
        r"\$0\.000000, 0 in / 0 out tokens, 0 request\(s\)$"
    )
    research, draft = _plan(team, goal_id)
    follow.expect(
        r"^\[\d\d:\d\d\] goal inbox \| 0/2 subtasks done \(2 assigned\) \| "
        r"orchestrator idle, researcher idle, writer idle \| \$0\.000000"
    )
    _research(team, research)
    follow.expect(
        r"\| 0/2 subtasks done \(1 assigned, 1 in_progress\) \| orchestrator idle, "
        r"researcher active on 'Research the market', writer idle \| "
        r"\$0\.001500, 1,000 in / 200 out tokens, 1 request\(s\)$"
    )
    _move(team, research, "researcher", TaskStatus.REVIEW, TaskStatus.DONE)
    with team.db.transaction() as session:
        brief = create_document(
            session,
            DocumentCreate(title="Launch brief", content="# Brief", task_id=draft),
            actor=team.act("writer"),
        )
    _move(team, draft, "writer", TaskStatus.IN_PROGRESS, TaskStatus.REVIEW, TaskStatus.DONE)
    follow.expect(r"^\[\d\d:\d\d\] goal inbox \| 2/2 subtasks done \| ")
    with team.db.transaction() as session:
        assign_task(
            session,
            goal_id,
            TaskAssign(agent_ids=[team.agents["orchestrator"]]),
            actor=Actor.user(),
        )
    _move(team, goal_id, "orchestrator", TaskStatus.IN_PROGRESS, TaskStatus.REVIEW)
    follow.expect(r"^\[\d\d:\d\d\] goal review \| 2/2 subtasks done \| ")
    _move(team, goal_id, "orchestrator", TaskStatus.DONE)
    assert follow.wait() == 0, "\n".join(follow.out + follow.err)
    assert follow.err == []
    assert "no worker running: running agents in this process" not in follow.out
    end = next(follow.out[n:] for n, line in enumerate(follow.out) if line.startswith("goal done"))
    assert re.fullmatch(r"goal done in \d\d:\d\d: Write the launch brief", end[0])
    assert end[1] == (
        "  2/2 subtasks done; agents: orchestrator, researcher, writer; "
        "$0.001500, 1,000 in / 200 out tokens, 1 request(s)"
    )
    assert end[2:] == [
        "results:",
        f"  'Launch brief' v1, document {brief.document_id}: "
        f"GET {API}/documents/{brief.document_id}",
        f"  the goal and its thread: missionctl tasks show {goal_id}",
        f"  its progress: GET {API}/goals/{goal_id}",
    ]


def test_a_blocked_subtask_ends_the_wait_with_what_a_person_must_do(
    team: Team, worker_alive: None, start: Start
) -> None:
    with team.db.transaction(None) as session:
        acme = ensure_tenant(session, "acme").tenant_id
    with team.db.transaction(acme) as session:
        scout = create_agent(session, AgentCreate(name="scout", role="Scout"), actor=Actor.user())
    follow = start("Count the customers", "--wait", "--tenant", "acme")
    goal_id = uuid.UUID(follow.expect(rf"^created goal ({ID}) in inbox: Count the customers$")[1])
    follow.expect(r"goal inbox \| no subtasks yet")
    reason = "the CRM export needs a login"
    with team.db.transaction(acme) as session:
        part = create_task(
            session,
            TaskCreate(
                title="Export the CRM", parent_task_id=goal_id, assignee_ids=[scout.agent_id]
            ),
            actor=Actor.agent(scout.agent_id),
        )
        change_status(
            session,
            part.task_id,
            TaskStatusChange(status=TaskStatus.BLOCKED, reason=reason),
            actor=Actor.agent(scout.agent_id),
        )
    assert follow.wait() == 3, "\n".join(follow.out + follow.err)
    assert follow.err == []
    assert re.search(r"goal inbox \| 0/1 subtasks done \(1 blocked\) \| scout idle", follow.out[-5])
    assert re.fullmatch(r"goal needs a person after \d\d:\d\d: Count the customers", follow.out[-4])
    assert follow.out[-3:] == [
        f"  - blocked: 'Export the CRM' is blocked: {reason}",
        f"    resolve it, then move it on: POST {API}/tasks/{part.task_id}/status "
        '{"status": "assigned"}',
        f"then follow it: GET {API}/goals/{goal_id}",
    ]
    with team.db.transaction(acme) as session:  # the goal went to the tenant asked for
        assert get_task(session, goal_id).is_goal


def test_json_prints_the_final_progress_and_the_live_lines_go_to_stderr(
    team: Team, worker_alive: None, start: Start
) -> None:
    follow = start("Plan the offsite", "--wait", "--json")
    goal_id = uuid.UUID(follow.expect(rf"^created goal ({ID}) in inbox", stream="err")[1])
    follow.expect(r"goal inbox \| no subtasks yet", stream="err")
    with team.db.transaction() as session:
        change_status(
            session,
            goal_id,
            TaskStatusChange(status=TaskStatus.BLOCKED, reason="which city?"),
            actor=Actor.user(),
        )
    assert follow.wait() == 3
    progress: dict[str, Any] = json.loads("\n".join(follow.out))
    assert progress["goal"]["task_id"] == str(goal_id)
    assert progress["needs_person"] is True and progress["is_finished"] is False
    assert [(a["kind"], a["reason"]) for a in progress["attention"]] == [("blocked", "which city?")]
    assert "  - blocked: 'Plan the offsite' is blocked: which city?" in follow.err


def test_a_wait_without_a_worker_runs_one_and_gives_up_at_the_timeout(
    tmp_path: Path, bytecode_cache: Path
) -> None:
    cli = make_cli(tmp_path, bytecode_cache)
    succeeded(cli("db", "upgrade"))
    result = cli("goal", "Nobody is here to do this", "--wait", "--timeout", "1")
    assert result.returncode == 4, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"created goal {ID} in inbox: Nobody is here to do this", lines[0])
    assert lines[1] == "no worker running: running agents in this process"
    assert re.fullmatch(
        r"\[00:0\d\] goal inbox \| no subtasks yet \| no agents yet \| .*", lines[2]
    )
    (error,) = result.stderr.splitlines()
    assert re.fullmatch(
        rf"error: gave up after 1s: goal ({ID}) is inbox, no subtasks yet; "
        rf"follow it with GET /api/v1/goals/\1",
        error,
    )
    db = open_db(cli)
    try:
        with db.transaction(None, write=False) as session:
            processes = list_processes(session)
    finally:
        db.dispose()
    # The embedded worker and scheduler ran in the command's process and stopped with it.
    assert sorted(p.role for p in processes) == [WorkerRole.SCHEDULER, WorkerRole.WORKER]
    assert all(p.stopped_at is not None and not p.is_alive for p in processes)
    assert len({p.pid for p in processes}) == 1


def goals(team: Team) -> list[str]:
    with team.db.transaction(write=False) as session:
        page = list_tasks(session, TaskFilter(is_goal=True, limit=200))
    return [task.title for task in page.items]


def test_a_wait_in_an_unknown_tenant_is_one_line_and_gives_no_goal(team: Team) -> None:
    before = goals(team)
    error = failed(team.cli("goal", "Anything", "--wait", "--tenant", "nowhere"), 3)
    assert error == "error: tenant nowhere not found"
    assert failed(team.cli("goal", "   ", "--wait"), 2).startswith("error: text:")
    assert goals(team) == before


def test_a_wait_on_a_fresh_install_runs_the_team_to_done_with_the_offline_model(
    tmp_path: Path, bytecode_cache: Path
) -> None:
    cli = make_cli(tmp_path, bytecode_cache)
    succeeded(cli("db", "upgrade"))
    for name, capability in (("lead", "planning"), ("scout", "research"), ("scribe", "writing")):
        succeeded(cli("agents", "create", name, "--role", name, "-c", capability))
    succeeded(cli("agents", "create", "critic", "--role", "Reviewer", "-c", "review"))
    text = "Research the options for a team wiki, then write a one-page recommendation."
    result = cli("goal", text, "--wait", "--timeout", "120")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "no worker running: running agents in this process" in out
    assert re.search(r"goal done in \d\d:\d\d", out)
    assert re.search(r"'Results: Research the options for a team wiki.*' v1, document", out)
    # Live lines (how many depends on speed: the goal may be done within the first second).
    assert re.search(r"\[\d\d:\d\d\] goal (inbox|assigned|in_progress|review) \| ", out)
