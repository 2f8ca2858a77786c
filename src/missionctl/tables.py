"""Every table of Mission Control, imported in one place for Alembic and `create_all` in tests."""

from missionctl.agents.models import AgentRow, AgentVersionRow
from missionctl.audit.models import AuditRow
from missionctl.board.models import TaskAssigneeRow, TaskDependencyRow, TaskRow
from missionctl.comms.models import AttachmentRow, MessageRow, NotificationRow, QuestionRow
from missionctl.db import Base
from missionctl.documents.models import DocumentRow, DocumentVersionRow
from missionctl.engine.models import JobRow, JobStepRow, ScheduleRow, WorkerRow
from missionctl.events.models import EventRow
from missionctl.identity.models import (
    ApiKeyRow,
    InvitationRow,
    MembershipRow,
    RefreshTokenRow,
    TenantRow,
    UserRow,
)
from missionctl.memory.models import MemoryRow
from missionctl.models.models import (
    BudgetHoldRow,
    BudgetLedgerRow,
    BudgetRow,
    DeploymentRow,
    PolicyRow,
    RateWindowRow,
    ResponseCacheRow,
    UsageRow,
)
from missionctl.runtime.models import AgentProposalRow, AgentTurnRow, TaskReviewRow
from missionctl.webhooks.models import DeliveryRow, WebhookRow
from missionctl.workflows.models import (
    WorkflowCacheRow,
    WorkflowDeliveryRow,
    WorkflowRow,
    WorkflowRunRow,
    WorkflowStepRow,
    WorkflowTriggerRow,
    WorkflowVersionRow,
)
from missionctl.workspace.models import WorkingNotesRow

metadata = Base.metadata

__all__ = [
    "AgentProposalRow",
    "AgentRow",
    "AgentTurnRow",
    "AgentVersionRow",
    "ApiKeyRow",
    "AttachmentRow",
    "AuditRow",
    "BudgetHoldRow",
    "BudgetLedgerRow",
    "BudgetRow",
    "DeliveryRow",
    "DeploymentRow",
    "DocumentRow",
    "DocumentVersionRow",
    "EventRow",
    "InvitationRow",
    "JobRow",
    "JobStepRow",
    "MembershipRow",
    "MemoryRow",
    "MessageRow",
    "NotificationRow",
    "PolicyRow",
    "QuestionRow",
    "RateWindowRow",
    "RefreshTokenRow",
    "ResponseCacheRow",
    "ScheduleRow",
    "TaskAssigneeRow",
    "TaskDependencyRow",
    "TaskReviewRow",
    "TaskRow",
    "TenantRow",
    "UsageRow",
    "UserRow",
    "WebhookRow",
    "WorkerRow",
    "WorkflowCacheRow",
    "WorkflowDeliveryRow",
    "WorkflowRow",
    "WorkflowRunRow",
    "WorkflowStepRow",
    "WorkflowTriggerRow",
    "WorkflowVersionRow",
    "WorkingNotesRow",
    "metadata",
]
