"""`missionctl agents …`."""

from __future__ import annotations

from typing import Annotated

import typer

from missionctl.agents import service
from missionctl.agents.schemas import AgentCreate, AgentFilter, AgentStatus
from missionctl.cli.context import unit_of_work
from missionctl.cli.output import print_json, print_table
from missionctl.cli.validation import build
from missionctl.common import Actor

app = typer.Typer(help="Agents.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


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
