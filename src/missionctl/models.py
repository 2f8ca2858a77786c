"""Every table of Mission Control, imported in one place for Alembic and `create_all` in tests."""

from missionctl.agents.models import AgentRow
from missionctl.audit.models import AuditRow
from missionctl.board.models import TaskAssigneeRow, TaskDependencyRow, TaskRow
from missionctl.comms.models import AttachmentRow, MessageRow, NotificationRow
from missionctl.db import Base
from missionctl.documents.models import DocumentRow, DocumentVersionRow
from missionctl.events.models import EventRow
from missionctl.identity.models import (
    ApiKeyRow,
    InvitationRow,
    MembershipRow,
    RefreshTokenRow,
    TenantRow,
    UserRow,
)
from missionctl.workspace.models import WorkingNotesRow

metadata = Base.metadata

__all__ = [
    "AgentRow",
    "ApiKeyRow",
    "AttachmentRow",
    "AuditRow",
    "DocumentRow",
    "DocumentVersionRow",
    "EventRow",
    "InvitationRow",
    "MembershipRow",
    "MessageRow",
    "NotificationRow",
    "RefreshTokenRow",
    "TaskAssigneeRow",
    "TaskDependencyRow",
    "TaskRow",
    "TenantRow",
    "UserRow",
    "WorkingNotesRow",
    "metadata",
]
