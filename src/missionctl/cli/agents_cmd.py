"""`missionctl agents …`."""

from __future__ import annotations

from typing import Annotated

import typer

from missionctl.agents import service
from missionctl.agents.schemas import AgentCreate, AgentFilter, AgentStatus, AgentVersionDiff
from missionctl.cli.context import unit_of_work
from missionctl.cli.output import print_json, print_table
from missionctl.cli.validation import build
from missionctl.common import Actor
from missionctl.errors import InvalidInput

app = typer.Typer(help="Agents.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AgentRef = Annotated[str, typer.Argument(help="Agent name or id.")]


def _version(value: str) -> int:
    """A version number given as `3` or `v3`."""
    digits = value.strip().removeprefix("v")
    if not digits.isdecimal() or int(digits) < 1:
        raise InvalidInput(f"{value!r} is not a version number (1, 2, … or v1, v2, …)")
    return int(digits)


@app.command("list")
def list_agents(
    status: Annotated[AgentStatus | None, typer.Option(help="Only this status.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List agents."""
    with unit_of_work(write=False) as session:
        agents = service.list_agents(session, AgentFilter(status=status, limit=200)).items
    if as_json:
        print_json(agents)
        return
    print_table(
        ["NAME", "ROLE", "STATUS", "CAPABILITIES", "MODEL", "ID"],
        [[a.name, a.role, a.status, ",".join(a.capabilities), a.model, a.agent_id] for a in agents],
    )


@app.command("create")
def create_agent(
    name: Annotated[str, typer.Argument(help="Unique name (used in @mentions).")],
    role: Annotated[str, typer.Option(help="Job title, e.g. Researcher.")],
    capability: Annotated[
        list[str] | None, typer.Option("--capability", "-c", help="Repeat for each.")
    ] = None,
    instructions: Annotated[str, typer.Option(help="Standing instructions.")] = "",
    model: Annotated[str, typer.Option(help="Model or policy alias.")] = "offline",
    heartbeat: Annotated[int, typer.Option(help="Heartbeat interval, seconds.")] = 900,
    as_json: JsonOption = False,
) -> None:
    """Create an agent."""
    data = build(
        AgentCreate,
        name=name,
        role=role,
        capabilities=capability or [],
        instructions=instructions,
        model=model,
        heartbeat_interval_seconds=heartbeat,
    )
    with unit_of_work() as session:
        agent = service.create_agent(session, data, actor=Actor.user())
    if as_json:
        print_json(agent)
    else:
        typer.echo(f"created agent {agent.name} ({agent.agent_id})")


@app.command("versions")
def list_versions(agent: AgentRef, as_json: JsonOption = False) -> None:
    """List an agent's definition versions, newest first."""
    with unit_of_work(write=False) as session:
        current = service.resolve_agent(session, agent)
        versions = service.list_agent_versions(session, current.agent_id)
    if as_json:
        print_json(versions)
        return
    print_table(
        ["VERSION", "NAME", "ROLE", "MODEL", "BY", "SAVED", "NOTE"],
        [
            [
                f"v{v.version}" + (" *" if v.version == current.version else ""),
                v.name,
                v.role,
                v.model,
                v.created_by_kind,
                f"{v.created_at:%Y-%m-%d %H:%M:%S}",
                v.note or "",
            ]
            for v in versions
        ],
    )


@app.command("rollback")
def rollback_agent(
    agent: AgentRef,
    version: Annotated[str, typer.Argument(help="The version to bring back, e.g. 2 or v2.")],
    as_json: JsonOption = False,
) -> None:
    """Bring back an earlier definition of an agent as a new version."""
    number = _version(version)
    with unit_of_work() as session:
        before = service.resolve_agent(session, agent)
        after = service.rollback_agent(session, before.agent_id, number, actor=Actor.user())
    if as_json:
        print_json(after)
    elif after.version == before.version:
        typer.echo(f"agent {after.name} already has the definition of v{number}")
    else:
        typer.echo(f"rolled agent {after.name} back to v{number}, now v{after.version}")


@app.command("diff")
def diff_versions(
    agent: AgentRef,
    from_version: Annotated[str, typer.Argument(metavar="FROM", help="Version from, e.g. 1.")],
    to_version: Annotated[str, typer.Argument(metavar="TO", help="Version to, e.g. 3.")],
    as_json: JsonOption = False,
) -> None:
    """Show what changed in an agent's definition between two versions."""
    old, new = _version(from_version), _version(to_version)
    with unit_of_work(write=False) as session:
        agent_id = service.resolve_agent(session, agent).agent_id
        diff = service.diff_agent_versions(session, agent_id, old, new)
    if as_json:
        print_json(diff)
    else:
        _print_diff(diff)


def _print_diff(diff: AgentVersionDiff) -> None:
    if not diff.changes:
        typer.echo(f"v{diff.from_version} and v{diff.to_version} define the same agent")
        return
    for field, change in diff.changes.items():
        if change.unified_diff is not None:
            typer.echo(f"{field}:")
            typer.echo(change.unified_diff, nl=False)
        else:
            typer.echo(f"{field}: {change.old!r} -> {change.new!r}")
