"""Who may do what: the one permission table (a pure core, no I/O).

Every route declares one permission; `allowed(role, permission)` decides. Agents acting through
their own API key have the `agent` role: they work the board but administer nothing.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A member's role in a tenant (`agent` is for agent keys, never given to people)."""

    ADMIN = "admin"
    DEVELOPER = "developer"
    OPERATOR = "operator"
    VIEWER = "viewer"
    AGENT = "agent"


class Permission(StrEnum):
    """resource:action pairs the routes declare."""

    PUBLIC = "public"  # no authentication at all (health, login)
    AUTHENTICATED = "authenticated"  # any signed-in principal (me, logout)
    BOARD_READ = "board:read"
    TASKS_WRITE = "tasks:write"
    MESSAGES_WRITE = "messages:write"
    DOCUMENTS_WRITE = "documents:write"
    NOTIFICATIONS_WRITE = "notifications:write"
    WORKING_MD_WRITE = "working_md:write"
    AGENTS_WRITE = "agents:write"
    AGENTS_HEARTBEAT = "agents:heartbeat"
    API_KEYS_MANAGE = "api_keys:manage"
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"
    JOBS_READ = "jobs:read"
    JOBS_MANAGE = "jobs:manage"
    WEBHOOKS_MANAGE = "webhooks:manage"
    MODELS_READ = "models:read"
    MODELS_MANAGE = "models:manage"
    MODELS_USE = "models:use"
    BUDGETS_MANAGE = "budgets:manage"
    MEMORY_WRITE = "memory:write"
    QUESTIONS_ANSWER = "questions:answer"
    WORKFLOWS_READ = "workflows:read"
    WORKFLOWS_WRITE = "workflows:write"
    WORKFLOWS_RUN = "workflows:run"


R = Role
EVERYONE = frozenset(Role)
WORKERS = frozenset({R.ADMIN, R.DEVELOPER, R.OPERATOR, R.AGENT})
PEOPLE = frozenset({R.ADMIN, R.DEVELOPER, R.OPERATOR, R.VIEWER})
BUILDERS = frozenset({R.ADMIN, R.DEVELOPER})

TABLE: dict[Permission, frozenset[Role]] = {
    Permission.AUTHENTICATED: EVERYONE,
    Permission.BOARD_READ: EVERYONE,
    Permission.TASKS_WRITE: WORKERS,
    Permission.MESSAGES_WRITE: WORKERS,
    Permission.DOCUMENTS_WRITE: WORKERS,
    Permission.NOTIFICATIONS_WRITE: WORKERS,
    Permission.WORKING_MD_WRITE: WORKERS,
    Permission.AGENTS_WRITE: frozenset({R.ADMIN, R.DEVELOPER}),
    Permission.AGENTS_HEARTBEAT: frozenset({R.ADMIN, R.DEVELOPER, R.AGENT}),
    Permission.API_KEYS_MANAGE: frozenset({R.ADMIN}),
    Permission.USERS_MANAGE: frozenset({R.ADMIN}),
    Permission.AUDIT_READ: frozenset({R.ADMIN}),
    Permission.JOBS_READ: PEOPLE,
    Permission.JOBS_MANAGE: BUILDERS,
    Permission.WEBHOOKS_MANAGE: BUILDERS,
    Permission.MODELS_READ: PEOPLE,
    Permission.MODELS_MANAGE: BUILDERS,
    Permission.MODELS_USE: WORKERS,
    Permission.BUDGETS_MANAGE: BUILDERS,
    Permission.MEMORY_WRITE: WORKERS,
    # People answer agents' questions; an agent may not answer its own (or another's).
    Permission.QUESTIONS_ANSWER: frozenset({R.ADMIN, R.DEVELOPER, R.OPERATOR}),
    # Architects define workflows; operators run, approve, pause, cancel and resume them.
    Permission.WORKFLOWS_READ: PEOPLE,
    Permission.WORKFLOWS_WRITE: BUILDERS,
    Permission.WORKFLOWS_RUN: frozenset({R.ADMIN, R.DEVELOPER, R.OPERATOR}),
}

# Which events a principal may see, by type prefix; everything else needs BOARD_READ.
EVENT_PERMISSIONS: dict[str, Permission] = {
    "job.": Permission.JOBS_READ,
    "schedule.": Permission.JOBS_READ,
    "webhook.": Permission.WEBHOOKS_MANAGE,
    "model_": Permission.MODELS_READ,
    "budget.": Permission.MODELS_READ,
    "workflow": Permission.WORKFLOWS_READ,
}


def allowed(role: Role, permission: Permission) -> bool:
    """True when `role` holds `permission` (PUBLIC is open to everyone)."""
    if permission is Permission.PUBLIC:
        return True
    return role in TABLE[permission]


def event_permission(event_type: str) -> Permission:
    """The permission needed to see an event of this type (in feeds, streams)."""
    for prefix, permission in EVENT_PERMISSIONS.items():
        if event_type.startswith(prefix):
            return permission
    return Permission.BOARD_READ


def hidden_event_prefixes(role: Role) -> list[str]:
    """Event type prefixes a role may not see."""
    return [prefix for prefix, needed in EVENT_PERMISSIONS.items() if not allowed(role, needed)]
