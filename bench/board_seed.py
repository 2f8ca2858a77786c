"""Seeding the board benchmark: agents, tasks and assignees, fast, through SQLAlchemy Core.

Split from board_list.py, which serves and loads; this only fills a migrated database.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import insert

from missionctl.db import DEFAULT_TENANT_ID, make_engine, new_id
from missionctl.identity.credentials import hash_password
from missionctl.tables import metadata


class SeedOptions(Protocol):
    """What seeding needs to know."""

    tasks: int
    agents: int
    seed: int


STATUS_WEIGHTS = {
    "inbox": 12,
    "assigned": 10,
    "in_progress": 10,
    "review": 7,
    "done": 55,
    "blocked": 6,
}
PRIORITY_WEIGHTS = {"low": 20, "normal": 50, "high": 20, "urgent": 10}
AGENT_NAMES = ("orchestrator", "researcher", "writer", "reviewer", "coder", "tester", "ops", "pm")
VERBS = ("Draft", "Review", "Research", "Summarise", "Fix", "Write", "Check", "Plan", "Test")
OBJECTS = (
    "the pricing brief",
    "the onboarding guide",
    "competitor notes",
    "the release checklist",
    "the API changelog",
    "customer interview notes",
    "the Q3 roadmap",
    "the incident report",
    "the data export",
    "the landing page copy",
)
BLOCK_REASONS = (
    "Waiting on legal review",
    "Needs access to the staging database",
    "Blocked by an upstream API outage",
    "Waiting for the customer's answer",
)

BENCH_EMAIL = "bench@missionctl.local"
BENCH_PASSWORD = "bench-password-not-secret"


@dataclass
class SeedStats:
    """What was seeded, and how long it took."""

    tasks: int
    agents: int
    assignees: int
    goals: int
    by_status: dict[str, int]
    seconds: float


def _weighted(rng: random.Random, weights: dict[str, int], k: int) -> list[str]:
    return rng.choices(list(weights), weights=list(weights.values()), k=k)


def seed_database(url: str, opts: SeedOptions) -> SeedStats:
    """Bulk-insert agents, tasks and assignees in one transaction (SQLAlchemy Core)."""
    started = time.perf_counter()
    rng = random.Random(opts.seed)
    now = datetime.now(UTC).replace(microsecond=0)
    # Tasks are spread over the last 180 days (at least 1 ms apart, so ids sort like created_at).
    span = max(timedelta(days=180), timedelta(milliseconds=opts.tasks + 1))
    first = now - span
    step = span / (opts.tasks + 1)

    agents: list[dict[str, Any]] = []
    for index, name in enumerate(AGENT_NAMES[: opts.agents]):
        created = first - timedelta(days=1, minutes=opts.agents - index)
        agents.append(
            {
                "tenant_id": DEFAULT_TENANT_ID,
                "agent_id": new_id(nanoseconds=int(created.timestamp() * 1e9)),
                "name": name,
                "role": name.capitalize(),
                "status": rng.choice(("idle", "active", "active", "blocked")),
                "capabilities": [name, "writing", "research"][: rng.randint(1, 3)],
                "instructions": f"You are the team's {name}. Keep the board moving.",
                "model": "offline",
                "heartbeat_interval_seconds": 900,
                "session_key": f"agent:{name}:main",
                "last_heartbeat_at": now - timedelta(minutes=rng.randint(1, 60)),
                "current_task_id": None,
                "created_at": created,
                "updated_at": created,
            }
        )
    agent_ids = [agent["agent_id"] for agent in agents]

    statuses = _weighted(rng, STATUS_WEIGHTS, opts.tasks)
    priorities = _weighted(rng, PRIORITY_WEIGHTS, opts.tasks)
    tasks: list[dict[str, Any]] = []
    assignees: list[dict[str, Any]] = []
    goal_id: uuid.UUID | None = None
    goals = 0
    for index in range(opts.tasks):
        created = first + step * (index + 1)
        task_id = new_id(nanoseconds=int(created.timestamp() * 1e9))  # creation order
        status = statuses[index]
        is_goal = rng.random() < 0.01
        by_agent = rng.random() < 0.4
        updated = min(now, created + timedelta(minutes=rng.randint(0, 3 * 24 * 60)))
        verb, obj = rng.choice(VERBS), rng.choice(OBJECTS)
        parent_id = goal_id if not is_goal and rng.random() < 0.3 else None  # a goal's subtask
        due_at = created + timedelta(days=rng.randint(1, 30)) if rng.random() < 0.25 else None
        tasks.append(
            {
                "tenant_id": DEFAULT_TENANT_ID,
                "task_id": task_id,
                "title": f"{verb} {obj} #{index + 1}",
                "description": (
                    f"{verb} {obj} for the team. Keep it short, cite sources, and attach the "
                    f"result to this task's thread. Ask the reviewer when it is ready.\n\n"
                    f"- context: batch {index // 1000}\n- owner: see assignees"
                ),
                "status": status,
                "status_reason": rng.choice(BLOCK_REASONS) if status == "blocked" else None,
                "priority": priorities[index],
                "is_goal": is_goal,
                "parent_task_id": parent_id,
                "created_by_kind": "agent" if by_agent else "user",
                "created_by_agent_id": rng.choice(agent_ids) if by_agent else None,
                "created_by_user_id": None,
                "due_at": due_at,
                "completed_at": updated if status == "done" else None,
                "created_at": created,
                "updated_at": updated,
            }
        )
        if is_goal:
            goal_id, goals = task_id, goals + 1
        if status != "inbox":
            count = 1 if rng.random() < 0.7 else 2
            for offset, agent_id in enumerate(rng.sample(agent_ids, count)):
                assigned = min(now, created + timedelta(seconds=30 + offset))
                assignees.append(
                    {
                        "tenant_id": DEFAULT_TENANT_ID,
                        "task_id": task_id,
                        "agent_id": agent_id,
                        "assigned_at": assigned,
                    }
                )

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(metadata.tables["agents"]), agents)
            user_id = new_id()
            conn.execute(
                insert(metadata.tables["users"]),
                [
                    {
                        "user_id": user_id,
                        "email": BENCH_EMAIL,
                        "display_name": "Bench",
                        "password_hash": hash_password(BENCH_PASSWORD),
                        "is_active": True,
                        "failed_logins": 0,
                        "created_at": datetime.now(UTC),
                    }
                ],
            )
            conn.execute(
                insert(metadata.tables["memberships"]),
                [
                    {
                        "membership_id": new_id(),
                        "tenant_id": DEFAULT_TENANT_ID,
                        "user_id": user_id,
                        "role": "viewer",
                        "created_at": datetime.now(UTC),
                    }
                ],
            )
            for start in range(0, len(tasks), 20_000):
                conn.execute(insert(metadata.tables["tasks"]), tasks[start : start + 20_000])
            for start in range(0, len(assignees), 20_000):
                conn.execute(
                    insert(metadata.tables["task_assignees"]), assignees[start : start + 20_000]
                )
    finally:
        engine.dispose()
    return SeedStats(
        tasks=len(tasks),
        agents=len(agents),
        assignees=len(assignees),
        goals=goals,
        by_status=dict(Counter(statuses)),
        seconds=round(time.perf_counter() - started, 2),
    )


# --------------------------------------------------------------------------- CPU accounting
