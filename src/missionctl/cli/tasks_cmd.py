"""`missionctl tasks …` (`missionctl goal` is in goal_cmd.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from missionctl.agents.service import all_agents, resolve_agent
from missionctl.board import service
from missionctl.board.schemas import Task, TaskCreate, TaskFilter, TaskPriority, TaskStatus
from missionctl.cli.context import unit_of_work
from missionctl.cli.output import print_fields, print_json, print_table
from missionctl.cli.validation import build, parse_id
from missionctl.common import Actor
from missionctl.comms.schemas import MessageFilter
from missionctl.comms.service import list_messages

app = typer.Typer(help="Tasks on the board.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _task_id(value: str) -> uuid.UUID:
    return parse_id(value, "task")


@app.command("list")
def list_tasks(
    status: Annotated[TaskStatus | None, typer.Option(help="Only this column.")] = None,
    assignee: Annotated[str | None, typer.Option(help="Agent name or id.")] = None,
    priority: Annotated[TaskPriority | None, typer.Option(help="Only this priority.")] = None,
    text: Annotated[str | None, typer.Option(help="Text in title or description.")] = None,
    goals: Annotated[bool, typer.Option("--goals", help="Only goals.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List tasks, newest first."""
    with unit_of_work(write=False) as session:
        assignee_id = resolve_agent(session, assignee).agent_id if assignee else None
        task_filter = build(
            TaskFilter,
            status=status,
            assignee_id=assignee_id,
            priority=priority,
            text=text,
            is_goal=True if goals else None,
            limit=limit,
        )
        tasks = service.list_tasks(session, task_filter).items
        names = {a.agent_id: a.name for a in all_agents(session)}
    if as_json:
        print_json(tasks)
        return
    print_table(
        ["STATUS", "PRIORITY", "TITLE", "ASSIGNEES", "ID"],
        [
            [
                t.status,
                t.priority,
                ("🎯 " if t.is_goal else "") + t.title,
                ",".join(names.get(a, str(a)) for a in t.assignee_ids) or "-",
                t.task_id,
            ]
            for t in tasks
        ],
    )


def _create(data: TaskCreate, as_json: bool) -> Task:
    with unit_of_work() as session:
        task = service.create_task(session, data, actor=Actor.user())
    if as_json:
        print_json(task)
    else:
        kind = "goal" if task.is_goal else "task"
        typer.echo(f"created {kind} {task.task_id} in {task.status}: {task.title}")
    return task


@app.command("create")
def create_task(
    title: Annotated[str, typer.Argument(help="Short title.")],
    description: Annotated[str, typer.Option(help="Markdown description.")] = "",
    priority: Annotated[TaskPriority, typer.Option(help="Urgency.")] = TaskPriority.NORMAL,
    assignee: Annotated[
        list[str] | None, typer.Option("--assignee", "-a", help="Agent name or id; repeat.")
    ] = None,
    parent: Annotated[str | None, typer.Option(help="Parent task id.")] = None,
    goal: Annotated[bool, typer.Option("--goal", help="Make it a goal.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a task."""
    with unit_of_work(write=False) as session:
        assignee_ids = [resolve_agent(session, ref).agent_id for ref in assignee or []]
    data = build(
        TaskCreate,
        title=title,
        description=description,
        priority=priority,
        assignee_ids=assignee_ids,
        parent_task_id=_task_id(parent) if parent else None,
        is_goal=goal,
    )
    _create(data, as_json)


@app.command("show")
def show_task(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    as_json: JsonOption = False,
) -> None:
    """Show a task and its thread."""
    with unit_of_work(write=False) as session:
        task = service.get_task(session, _task_id(task_id))
        thread = list_messages(session, task.task_id, MessageFilter(limit=200)).items
        names = {a.agent_id: a.name for a in all_agents(session)}
    if as_json:
        print_json(
            {
                **task.model_dump(mode="json"),
                "messages": [m.model_dump(mode="json") for m in thread],
            }
        )
        return
    print_fields(
        [
            ("id", task.task_id),
            ("title", task.title),
            ("status", task.status + (f" ({task.status_reason})" if task.status_reason else "")),
            ("priority", task.priority),
            ("goal", "yes" if task.is_goal else "no"),
            ("assignees", ", ".join(names.get(a, str(a)) for a in task.assignee_ids) or "-"),
            ("parent", task.parent_task_id or "-"),
            ("depends on", ", ".join(str(d) for d in task.depends_on) or "-"),
            ("due", task.due_at or "-"),
            ("created", task.created_at),
        ]
    )
    if task.description:
        typer.echo("")
        typer.echo(task.description)
    typer.echo("")
    typer.echo(f"thread ({len(thread)} message(s))")
    for message in thread:
        author = (
            names.get(message.author_agent_id, "person")
            if message.author_agent_id
            else message.author_kind
        )
        stamp = f"{message.created_at:%Y-%m-%d %H:%M}"
        typer.echo(f"  [{stamp}] {author} ({message.message_type}): {message.content}")
