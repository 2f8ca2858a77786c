"""New agents the orchestrator proposes from templates; by default a person approves them.

When a subtask needs a capability no agent has, the orchestrator proposes an agent from the
built-in template that offers it (one pending proposal per template at a time). Admins are
notified; approving creates the agent and assigns it the subtask that needed it. With
`MISSIONCTL_AUTO_APPROVE_AGENTS=true` the proposal is approved at once by the system.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from missionctl.agents.schemas import Agent, AgentCreate
from missionctl.agents.service import all_agents, create_agent, find_agent_by_name
from missionctl.board import service as board
from missionctl.board.schemas import TaskAssign, TaskStatus
from missionctl.common import Actor, Page, decode_uuid_cursor, split_page
from missionctl.comms.schemas import NotificationKind
from missionctl.comms.service import notify_admins
from missionctl.db import utcnow
from missionctl.errors import Conflict, NotFound
from missionctl.events.service import record_event
from missionctl.runtime.models import AgentProposalRow
from missionctl.runtime.schemas import AgentProposal, Policy, ProposalFilter
from missionctl.runtime.service import request_turn


@dataclass(frozen=True, slots=True)
class AgentTemplate:
    """A kind of agent Mission Control knows how to set up."""

    name: str
    role: str
    capabilities: tuple[str, ...]
    instructions: str


TEMPLATES: tuple[AgentTemplate, ...] = (
    AgentTemplate(
        "researcher",
        "Researcher",
        ("research", "analysis", "web", "summarisation"),
        "Find and check facts; cite sources; write findings as research documents.",
    ),
    AgentTemplate(
        "writer",
        "Writer",
        ("writing", "editing", "documentation"),
        "Turn research into clear deliverables in the requested format.",
    ),
    AgentTemplate(
        "reviewer",
        "Reviewer",
        ("review", "quality", "fact-checking"),
        "Check deliverables against the task; approve, or return them with specific comments.",
    ),
    AgentTemplate(
        "engineer",
        "Software engineer",
        ("engineering", "code", "testing", "devops"),
        "Design, build and test software; explain trade-offs; leave working notes.",
    ),
    AgentTemplate(
        "analyst",
        "Data analyst",
        ("analysis", "data", "statistics", "reporting"),
        "Analyse data, state assumptions, and report findings with the numbers behind them.",
    ),
    AgentTemplate(
        "designer",
        "Designer",
        ("design", "ux", "visual"),
        "Propose user-facing designs with rationale; describe layouts and flows precisely.",
    ),
    AgentTemplate(
        "marketer",
        "Marketer",
        ("marketing", "copywriting", "seo", "social"),
        "Write audience-aware copy and plan campaigns; measure what matters.",
    ),
    AgentTemplate(
        "support",
        "Support specialist",
        ("support", "customer", "triage"),
        "Answer customers accurately and kindly; escalate what you cannot resolve.",
    ),
)


def template_for(capability: str) -> AgentTemplate | None:
    """The first template offering `capability`."""
    wanted = capability.casefold()
    return next((t for t in TEMPLATES if wanted in t.capabilities), None)


def has_pending_proposal(session: Session, capability: str) -> bool:
    """Whether an agent offering `capability` is proposed and waits for a person."""
    template = template_for(capability)
    return (
        template is not None
        and session.scalar(
            select(AgentProposalRow.proposal_id)
            .where(AgentProposalRow.template == template.name, AgentProposalRow.status == "pending")
            .limit(1)
        )
        is not None
    )


def _free_name(session: Session, base: str) -> str:
    name, n = base, 1
    while find_agent_by_name(session, name) is not None:
        n += 1
        name = f"{base}-{n}"
    return name


def propose_for(
    session: Session, capability: str, *, task_id: uuid.UUID, by: Agent, policy: Policy
) -> AgentProposal | None:
    """Propose an agent with `capability` (None when no template has it)."""
    template = template_for(capability)
    if template is None:
        notify_admins(
            session,
            NotificationKind.ESCALATION,
            f"No agent can do {capability!r} and no template offers it; assign the task by hand",
            task_id=task_id,
        )
        return None
    pending = session.scalar(
        select(AgentProposalRow).where(
            AgentProposalRow.template == template.name, AgentProposalRow.status == "pending"
        )
    )
    if pending is not None:
        return AgentProposal.model_validate(pending)
    row = AgentProposalRow(
        template=template.name,
        name=_free_name(session, template.name),
        role=template.role,
        capabilities=list(template.capabilities),
        instructions=template.instructions,
        reason=f"A subtask needs {capability!r} and no agent has it",
        task_id=task_id,
        status="pending",
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        "agent.proposed",
        actor=Actor.agent(by.agent_id),
        subject_kind="agent_proposal",
        subject_id=row.proposal_id,
        task_id=task_id,
        agent_id=by.agent_id,
        summary=f"{by.name} proposes a new agent {row.name!r} ({row.role})",
        payload={"proposal_id": str(row.proposal_id), "template": template.name},
    )
    if policy.auto_approve_agents:
        approve_proposal(session, row.proposal_id, actor=Actor.system())
    else:
        notify_admins(
            session,
            NotificationKind.APPROVAL,
            f"{by.name} proposes a new agent {row.name!r} ({row.role}): {row.reason}",
            task_id=task_id,
        )
    return AgentProposal.model_validate(row)


def _pending(session: Session, proposal_id: uuid.UUID) -> AgentProposalRow:
    row = session.scalar(
        select(AgentProposalRow)
        .where(AgentProposalRow.proposal_id == proposal_id)
        .with_for_update()
    )
    if row is None:
        raise NotFound("agent proposal", proposal_id)
    if row.status != "pending":
        raise Conflict(f"the proposal is already {row.status}", current=row.status)
    return row


def approve_proposal(session: Session, proposal_id: uuid.UUID, *, actor: Actor) -> AgentProposal:
    """Create the proposed agent and hand it the task that needed it."""
    row = _pending(session, proposal_id)
    agent = create_agent(
        session,
        AgentCreate(
            name=_free_name(session, row.name),
            role=row.role,
            capabilities=list(row.capabilities),
            instructions=row.instructions,
        ),
        actor=actor,
    )
    row.status, row.agent_id = "approved", agent.agent_id
    row.decided_by_user_id, row.decided_at = actor.user_id, utcnow()
    session.flush()
    if row.task_id is not None:
        task = board.tasks_by_id(session, [row.task_id]).get(row.task_id)
        if task is not None and not task.assignee_ids and task.status is TaskStatus.INBOX:
            board.assign_task(
                session, task.task_id, TaskAssign(agent_ids=[agent.agent_id]), actor=actor
            )
    _wake_orchestrators(session)  # other tasks that waited for such an agent get assigned
    record_event(
        session,
        "agent.proposal_approved",
        actor=actor,
        subject_kind="agent_proposal",
        subject_id=row.proposal_id,
        task_id=row.task_id,
        agent_id=agent.agent_id,
        summary=f"Proposed agent {agent.name} approved",
        payload={"proposal_id": str(row.proposal_id)},
    )
    return AgentProposal.model_validate(row)


def _wake_orchestrators(session: Session) -> None:
    for agent in all_agents(session):
        if "planning" in agent.capabilities:
            request_turn(session, agent.agent_id)


def reject_proposal(session: Session, proposal_id: uuid.UUID, *, actor: Actor) -> AgentProposal:
    """Decline a proposed agent; the tasks that waited for it go to the agents there are."""
    row = _pending(session, proposal_id)
    row.status, row.decided_by_user_id, row.decided_at = "rejected", actor.user_id, utcnow()
    session.flush()
    _wake_orchestrators(session)  # the waiting tasks go to whoever can take them
    record_event(
        session,
        "agent.proposal_rejected",
        actor=actor,
        subject_kind="agent_proposal",
        subject_id=row.proposal_id,
        task_id=row.task_id,
        summary=f"Proposed agent {row.name} rejected",
        payload={"proposal_id": str(row.proposal_id)},
    )
    return AgentProposal.model_validate(row)


def list_proposals(session: Session, proposal_filter: ProposalFilter) -> Page[AgentProposal]:
    """Proposals, newest first."""
    query = select(AgentProposalRow)
    if proposal_filter.status:
        query = query.where(AgentProposalRow.status == proposal_filter.status)
    if proposal_filter.cursor:
        query = query.where(
            AgentProposalRow.proposal_id < decode_uuid_cursor(proposal_filter.cursor)
        )
    limit = proposal_filter.limit
    rows = list(
        session.scalars(query.order_by(AgentProposalRow.proposal_id.desc()).limit(limit + 1))
    )
    page, next_cursor = split_page(rows, limit, lambda row: row.proposal_id)
    return Page[AgentProposal](
        items=[AgentProposal.model_validate(row) for row in page], next_cursor=next_cursor
    )
