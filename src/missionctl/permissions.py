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


R = Role
EVERYONE = frozenset(Role)
WORKERS = frozenset({R.ADMIN, R.DEVELOPER, R.OPERATOR, R.AGENT})

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
}


def allowed(role: Role, permission: Permission) -> bool:
    """True when `role` holds `permission` (PUBLIC is open to everyone)."""
    if permission is Permission.PUBLIC:
        return True
    return role in TABLE[permission]
