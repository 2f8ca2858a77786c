"""`missionctl goal "text" [--wait]`: give a goal, and follow it until it is done or needs a person.

With `--wait` the command reads the goal's progress every half second (a read-only transaction
each time) and prints a line whenever something changed. It ends with exit 0 when the goal is
done (printing where the results are), 3 when a person is needed (printing what and how to act),
4 on `--timeout`. Agents only work while a worker runs: without a live one, the command runs a
worker and the scheduler in its own process until it ends.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Annotated

import typer

from missionctl.board.schemas import TaskPriority, TaskStatus
from missionctl.cli.context import database
from missionctl.cli.embedded import Say, work_in_process
from missionctl.cli.output import print_json
from missionctl.cli.validation import build
from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID, Database
from missionctl.errors import MissionControlError
from missionctl.identity.service import get_tenant
from missionctl.runtime.progress import create_goal, goal_progress
from missionctl.runtime.schemas import Attention, AttentionKind, GoalCreate, GoalProgress
from missionctl.settings import Settings

POLL_SECONDS = 0.5
EXIT_NEEDS_PERSON = 3
DEFAULT_TIMEOUT_SECONDS = 1800


class WaitTimedOut(MissionControlError):
    """`--wait` gave up before the goal was done or needed a person."""

    code = "wait_timed_out"
    exit_code = 4


def goal(
    text: Annotated[str, typer.Argument(help="What you want done, in a sentence or two.")],
    priority: Annotated[TaskPriority, typer.Option(help="Urgency.")] = TaskPriority.NORMAL,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Follow the goal until it is done (exit 0) or needs a person (exit 3)."
        ),
    ] = False,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant slug (default: the default tenant).")
    ] = None,
    timeout: Annotated[
        int, typer.Option(min=1, help="With --wait: give up after this many seconds (exit 4).")
    ] = DEFAULT_TIMEOUT_SECONDS,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (with --wait: the final progress).")
    ] = False,
) -> None:
    """Give Mission Control a goal: it lands in the inbox for the orchestrator."""
    data = build(GoalCreate, text=text, priority=priority)
    with database() as (settings, db):
        tenant_id = _tenant_id(db, tenant)
        with db.transaction(tenant_id) as session:
            task = create_goal(session, data, actor=Actor.user())
        if not wait:
            if as_json:
                print_json(task)
            else:
                typer.echo(f"created goal {task.task_id} in {task.status}: {task.title}")
            return
        say = _to_stderr if as_json else typer.echo
        say(f"created goal {task.task_id} in {task.status}: {task.title}")
        with work_in_process(settings, db, say, "agents"):
            progress, elapsed = _follow(db, tenant_id, task.task_id, timeout, say)
    if as_json:
        print_json(progress)
    hints = Hints.of(_base_url(settings), tenant)
    if progress.is_finished:
        for line in finished_lines(progress, elapsed, hints):
            say(line)
        return
    for line in attention_lines(progress, elapsed, hints):
        say(line)
    raise typer.Exit(EXIT_NEEDS_PERSON)


def _to_stderr(line: str) -> None:
    typer.echo(line, err=True)


def _tenant_id(db: Database, slug: str | None) -> uuid.UUID:
    """The tenant the slug names (`NotFound` if none), or the default one."""
    if slug is None:
        return DEFAULT_TENANT_ID
    with db.transaction(None, write=False) as session:
        return get_tenant(session, slug).tenant_id


def _base_url(settings: Settings) -> str:
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


# -- running the agents -------------------------------------------------------------------------


# -- following the goal -------------------------------------------------------------------------


def _follow(
    db: Database, tenant_id: uuid.UUID, goal_id: uuid.UUID, timeout: int, say: Say
) -> tuple[GoalProgress, float]:
    """Poll until the goal is done or needs a person; print each change. `WaitTimedOut` else."""
    started = time.monotonic()
    shown = ""
    while True:
        with db.transaction(tenant_id, write=False) as session:
            progress = goal_progress(session, goal_id)
        elapsed = time.monotonic() - started
        line = progress_line(progress)
        if line != shown:
            say(f"[{clock(elapsed)}] {line}")
            shown = line
        if progress.is_finished or progress.needs_person:
            return progress, elapsed
        if elapsed >= timeout:
            raise WaitTimedOut(
                f"gave up after {timeout}s: goal {goal_id} is {progress.goal.status}, "
                f"{_done(progress)}; follow it with GET /api/v1/goals/{goal_id}"
            )
        time.sleep(POLL_SECONDS)


def clock(seconds: float) -> str:
    """Elapsed time as mm:ss."""
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def _done(progress: GoalProgress) -> str:
    total = len(progress.subtasks)
    if not total:
        return "no subtasks yet"
    return f"{progress.counts[TaskStatus.DONE]}/{total} subtasks done"


def _subtasks(progress: GoalProgress) -> str:
    others = [
        f"{count} {status}"
        for status, count in progress.counts.items()
        if count and status is not TaskStatus.DONE
    ]
    return _done(progress) + (f" ({', '.join(others)})" if others else "")


def _agents(progress: GoalProgress) -> str:
    if not progress.agents:
        return "no agents yet"
    return ", ".join(
        f"{agent.name} {agent.status}"
        + (f" on {agent.current_task_title!r}" if agent.current_task_title else "")
        for agent in progress.agents
    )


def _cost(progress: GoalProgress) -> str:
    if progress.cost_usd is None:
        cost = f"cost unknown ({progress.unpriced_requests} unpriced request(s))"
    else:
        cost = f"${progress.cost_usd:.6f}"
    return (
        f"{cost}, {progress.input_tokens:,} in / {progress.output_tokens:,} out tokens, "
        f"{progress.requests} request(s)"
    )


def progress_line(progress: GoalProgress) -> str:
    """One line: the goal's status, subtasks, agents, cost and tokens."""
    return " | ".join(
        (f"goal {progress.goal.status}", _subtasks(progress), _agents(progress), _cost(progress))
    )


# -- the end ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hints:
    """Where things are and which command acts on them, for this deployment and tenant."""

    api: str
    tenant_flag: str

    @classmethod
    def of(cls, base_url: str, tenant: str | None) -> Hints:
        """Hints for the API at `base_url` and the tenant named on the command line."""
        return cls(api=f"{base_url}/api/v1", tenant_flag=f" --tenant {tenant}" if tenant else "")

    def command(self, command: str) -> str:
        """A `missionctl` command line in the same tenant."""
        return f"missionctl {command}{self.tenant_flag}"


def finished_lines(progress: GoalProgress, elapsed: float, hints: Hints) -> list[str]:
    """The summary of a finished goal and where its results are."""
    goal_id = progress.goal.task_id
    lines = [
        f"goal done in {clock(elapsed)}: {progress.goal.title}",
        f"  {_done(progress)}; agents: {_agents_names(progress)}; {_cost(progress)}",
        "results:",
    ]
    for document in progress.documents:
        lines.append(
            f"  {document.title!r} v{document.version}, document {document.document_id}: "
            f"GET {hints.api}/documents/{document.document_id}"
        )
    if not progress.documents:
        lines.append("  no documents were written; the work is in the threads")
    lines.append(f"  the goal and its thread: {hints.command(f'tasks show {goal_id}')}")
    lines.append(f"  its progress: GET {hints.api}/goals/{goal_id}")
    return lines


def _agents_names(progress: GoalProgress) -> str:
    return ", ".join(agent.name for agent in progress.agents) or "none"


def attention_lines(progress: GoalProgress, elapsed: float, hints: Hints) -> list[str]:
    """What needs a person, and how to act on each item."""
    goal_id = progress.goal.task_id
    lines = [f"goal needs a person after {clock(elapsed)}: {progress.goal.title}"]
    for item in progress.attention:
        lines.append(f"  - {item.kind}: {item.summary}")
        lines.append(f"    {how_to_act(item, hints)}")
    lines.append(f"then follow it: GET {hints.api}/goals/{goal_id}")
    return lines


def how_to_act(item: Attention, hints: Hints) -> str:
    """The next step for a person, as a command or an API call."""
    if item.kind is AttentionKind.BLOCKED:
        return (
            f"resolve it, then move it on: POST {hints.api}/tasks/{item.task_id}/status "
            '{"status": "assigned"}'
        )
    if item.kind is AttentionKind.QUESTION:
        return f"answer it: POST {hints.api}/questions/{item.subject_id}/answer"
    if item.kind is AttentionKind.BUDGET:
        return f"raise it: {hints.command(f'budgets raise {item.subject_id} --usd AMOUNT')}"
    return f"look at the task: {hints.command(f'tasks show {item.task_id}')}"
