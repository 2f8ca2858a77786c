"""HTTP routes for goals (give one, list them, follow one's progress) and proposed agents."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from missionctl.board.schemas import Task
from missionctl.common import Page
from missionctl.permissions import Permission
from missionctl.runtime import progress, proposals
from missionctl.runtime.schemas import (
    AgentProposal,
    GoalCreate,
    GoalFilter,
    GoalProgress,
    ProposalFilter,
)
from missionctl.web.auth import need
from missionctl.web.deps import Ctx

router = APIRouter(prefix="/goals", tags=["goals"])
proposals_router = APIRouter(prefix="/agent-proposals", tags=["agents"])


@router.post(
    "",
    status_code=201,
    summary="Give a goal (the first line of the text is its title)",
    dependencies=[need(Permission.TASKS_WRITE)],
)
def create_goal(ctx: Ctx, data: GoalCreate) -> Task:
    with ctx.write() as session:
        return progress.create_goal(session, data, actor=ctx.actor, quotas=ctx.app.quotas)


@router.get("", summary="List goals", dependencies=[need(Permission.BOARD_READ)])
def list_goals(ctx: Ctx, query: Annotated[GoalFilter, Query()]) -> Page[Task]:
    with ctx.read() as session:
        return progress.list_goals(session, query)


@router.get(
    "/{goal_id}",
    summary="A goal's progress: subtasks, agents, cost, documents, what needs a person",
    dependencies=[need(Permission.BOARD_READ)],
)
def get_goal_progress(ctx: Ctx, goal_id: uuid.UUID) -> GoalProgress:
    with ctx.read() as session:
        return progress.goal_progress(session, goal_id)


@proposals_router.get(
    "",
    summary="Agents the orchestrator proposed (a person approves them)",
    dependencies=[need(Permission.BOARD_READ)],
)
def list_proposals(ctx: Ctx, query: Annotated[ProposalFilter, Query()]) -> Page[AgentProposal]:
    with ctx.read() as session:
        return proposals.list_proposals(session, query)


@proposals_router.post(
    "/{proposal_id}/approve",
    summary="Approve a proposed agent: it is created and given the task that needed it",
    dependencies=[need(Permission.AGENTS_WRITE)],
)
def approve_proposal(ctx: Ctx, proposal_id: uuid.UUID) -> AgentProposal:
    with ctx.write() as session:
        return proposals.approve_proposal(session, proposal_id, actor=ctx.actor)


@proposals_router.post(
    "/{proposal_id}/reject",
    summary="Decline a proposed agent",
    dependencies=[need(Permission.AGENTS_WRITE)],
)
def reject_proposal(ctx: Ctx, proposal_id: uuid.UUID) -> AgentProposal:
    with ctx.write() as session:
        return proposals.reject_proposal(session, proposal_id, actor=ctx.actor)
