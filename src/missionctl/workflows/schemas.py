"""Workflow schemas: what the API and CLI take and give."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from missionctl.common import QueryModel, Schema, StoredUTC
from missionctl.engine.schemas import MisfirePolicy
from missionctl.workflows.graph import StepStatus

NAME_FIELD = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")
TAG_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"


class RunStatus(StrEnum):
    """Where a run is."""

    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"  # on a person, a time, a task, a child run or a retry
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # on the dead-letter list until resumed
    CANCELLED = "cancelled"


ACTIVE_RUN_STATUSES = frozenset(
    {RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING, RunStatus.PAUSED}
)
FINAL_RUN_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})


class Workflow(BaseModel):
    """A workflow and where its versions stand."""

    model_config = ConfigDict(from_attributes=True)

    workflow_id: uuid.UUID = Field(description="The workflow's id.")
    name: str = Field(description="Unique within the tenant.")
    description: str = Field(description="What it is for (from the newest version).")
    latest_version: int = Field(description="The newest saved version.")
    published_version: int | None = Field(
        description="The version runs start on by default (the newest when none is published)."
    )
    tags: dict[str, int] = Field(description="Named versions: tag → version.")
    created_at: StoredUTC = Field(description="When the first version was saved.")
    updated_at: StoredUTC = Field(description="When it last changed.")


class WorkflowSaved(BaseModel):
    """What saving a definition made."""

    name: str = Field(description="The workflow's name.")
    version: int = Field(description="The version this save created (or the same definition's).")
    is_new_version: bool = Field(description="False when the definition equals the newest one.")
    workflow: Workflow = Field(description="The workflow after the save.")


class WorkflowVersion(BaseModel):
    """One immutable version."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    name: str = Field(description="The workflow's name.")
    version: int = Field(description="Its number, from 1.")
    checksum: str = Field(description="SHA-256 of the normalised definition.")
    note: str = Field(description="What the author said of it.")
    created_by: str | None = Field(description="Who saved it (actor id).")
    created_at: StoredUTC = Field(description="When it was saved.")
    definition: dict[str, Any] = Field(description="The checked definition, normalised.")
    source: str = Field(description="The text as it was submitted (YAML or JSON).")
    tags: list[str] = Field(default_factory=list, description="Tags naming this version.")
    is_published: bool = Field(default=False, description="Whether runs start on it by default.")


class DefinitionFault(BaseModel):
    """One fault of a definition, and where it is."""

    location: str = Field(description="The path, e.g. `nodes.review.message`; empty: the text.")
    message: str = Field(description="What is wrong.")
    line: int | None = Field(description="Line in the text sent (from 1), when known.")
    column: int | None = Field(description="Column in that line (from 1), when known.")


class GraphNode(BaseModel):
    """A node to draw."""

    id: str = Field(description="The node's id.")
    type: str = Field(description="Its type.")
    needs: list[str] = Field(description="What it needs.")
    description: str = Field(description="Its description.")


class GraphEdge(BaseModel):
    """An edge to draw: `needs`, a branch to a controlled node, or a parallel member's join."""

    source: str = Field(description="From this node.")
    target: str = Field(description="To this one.")
    kind: Literal["needs", "branch", "join"] = Field(description="What the edge means.")


class WorkflowGraph(BaseModel):
    """A checked definition as nodes and edges, with the order it runs in."""

    nodes: list[GraphNode] = Field(description="Its nodes.")
    edges: list[GraphEdge] = Field(description="Its edges.")
    order: list[str] = Field(description="Node ids in topological order.")


class Validation(BaseModel):
    """Whether a definition would be accepted, and every fault if not."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    is_valid: bool = Field(description="True when it would save.")
    name: str | None = Field(default=None, description="The workflow's name, when readable.")
    errors: list[DefinitionFault] = Field(description="Each fault, with its place.")
    graph: WorkflowGraph | None = Field(default=None, description="What to draw, when valid.")


class VersionChange(BaseModel):
    """One difference between two versions."""

    path: str = Field(description="Where, e.g. `nodes.review.message`.")
    change: Literal["added", "removed", "changed"] = Field(description="What happened there.")
    before: Any = Field(default=None, description="The old value.")
    after: Any = Field(default=None, description="The new value.")


class VersionDiff(BaseModel):
    """How two versions differ."""

    name: str = Field(description="The workflow.")
    from_version: int = Field(description="The older side.")
    to_version: int = Field(description="The newer side.")
    changes: list[VersionChange] = Field(description="Structural differences, by path.")
    unified: str = Field(description="A unified diff of the two sources.")


class VersionAction(Schema):
    """Publish, tag or roll back to a version."""

    version: int = Field(ge=1, description="The version.")
    tag: str | None = Field(default=None, pattern=TAG_PATTERN, description="Tag name (tag only).")


class RunCreate(Schema):
    """Start a run."""

    inputs: dict[str, Any] = Field(default_factory=dict, description="The workflow's inputs.")
    version: int | None = Field(
        default=None, ge=1, description="Run this version (default: published, else newest)."
    )
    tag: str | None = Field(default=None, pattern=TAG_PATTERN, description="Or the tagged one.")


class Step(BaseModel):
    """One node execution of a run."""

    model_config = ConfigDict(from_attributes=True)

    step_key: str = Field(description="The node id, or `<map id>[i]` for a map's item i.")
    node_id: str = Field(description="The node.")
    node_type: str = Field(description="Its type.")
    item_index: int | None = Field(description="The map item, if any.")
    status: StepStatus = Field(description="Where it is.")
    attempts: int = Field(description="Attempts so far.")
    inputs: dict[str, Any] | None = Field(description="What it was given (rendered).")
    output: Any = Field(description="What it produced.")
    error: str | None = Field(description="Its last error.")
    error_class: str | None = Field(description="The class of that error (retry policies use it).")
    logs: list[Any] = Field(description="Log lines: attempts, retries, waits, decisions.")
    details: dict[str, Any] = Field(description="Task, child run or approval it waits on.")
    is_cache_hit: bool = Field(description="Its output came from the cache.")
    cost_nanos: int = Field(description="Model cost of the step, in billionths of a dollar.")
    duration_ms: float | None = Field(description="Time from its start to its end.")
    started_at: StoredUTC = Field(description="When it started.")
    finished_at: StoredUTC | None = Field(description="When it ended.")
    wake_at: StoredUTC | None = Field(description="When a waiting step is looked at again.")


class WorkflowRun(BaseModel):
    """A run, with its steps when asked for one run."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )

    run_id: uuid.UUID = Field(description="The run's id.")
    workflow: str = Field(validation_alias="workflow_name", description="The workflow's name.")
    version: int = Field(description="The version it runs (pinned at start).")
    status: RunStatus = Field(description="Where it is.")
    inputs: dict[str, Any] = Field(description="Its inputs.")
    outputs: dict[str, Any] | None = Field(description="Its outputs, once it succeeded.")
    error: str | None = Field(description="Why it failed.")
    failed_step: str | None = Field(description="The step it failed on (resume starts there).")
    trigger_kind: str = Field(description="manual, api, cli, cron, webhook, event, subworkflow.")
    trigger_id: uuid.UUID | None = Field(description="The trigger that started it.")
    parent_run_id: uuid.UUID | None = Field(description="The run it is a subworkflow of.")
    started_by: str = Field(description="Who or what started it.")
    cost_nanos: int = Field(description="Model cost so far.")
    steps_done: int = Field(description="Steps finished so far.")
    created_at: StoredUTC = Field(description="When it was queued.")
    started_at: StoredUTC | None = Field(description="When it first ran.")
    finished_at: StoredUTC | None = Field(description="When it ended.")
    steps: list[Step] = Field(default_factory=list, description="Its steps, in start order.")


class RunFilter(QueryModel):
    """Which runs to list."""

    workflow: str | None = Field(default=None, description="Only this workflow's runs.")
    status: RunStatus | None = Field(default=None, description="Only runs in this status.")
    trigger_id: uuid.UUID | None = Field(default=None, description="Only this trigger's runs.")
    limit: int = Field(default=50, ge=1, le=500, description="Page size.")
    cursor: str | None = Field(default=None, description="From the previous page.")


class ApprovalDecision(Schema):
    """A person's decision on an approval node."""

    node: str = Field(min_length=1, max_length=200, description="The approval node's id.")
    approved: bool = Field(description="Approve (true) or reject (false).")
    comment: str = Field(default="", max_length=5000, description="Why.")


class RunResume(Schema):
    """Resume a failed or paused run."""

    version: int | None = Field(
        default=None,
        ge=1,
        description="Continue on this (fixed) version; finished steps keep their outputs.",
    )


class TriggerKind(StrEnum):
    """What starts runs."""

    CRON = "cron"
    WEBHOOK = "webhook"
    EVENT = "event"
    MANUAL = "manual"


class OverlapPolicy(StrEnum):
    """What a trigger does when its previous run is still going."""

    SKIP = "skip"  # start nothing
    QUEUE = "queue"  # start it when the previous one ends
    ALLOW = "allow"  # start it anyway


class TriggerCreate(Schema):
    """A new trigger of a workflow."""

    name: str = Field(min_length=1, max_length=100, description="Unique within the tenant.")
    kind: TriggerKind = Field(description="cron, webhook, event or manual.")
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="Inputs of the runs it starts; `{{ trigger.* }}` templates read the "
        "webhook body (`trigger.body`) or the event (`trigger.event`).",
    )
    version: int | None = Field(default=None, ge=1, description="Pin a version (default: none).")
    overlap: OverlapPolicy = Field(default=OverlapPolicy.ALLOW, description="Overlap policy.")
    is_enabled: bool = Field(default=True, description="Whether it fires.")
    cron: str | None = Field(default=None, max_length=120, description="cron: the expression.")
    timezone: str = Field(default="UTC", max_length=64, description="cron: IANA time zone.")
    misfire_policy: MisfirePolicy = Field(
        default=MisfirePolicy.RUN_ONCE, description="cron: what to do with missed firings."
    )
    misfire_grace_seconds: Annotated[int, Field(ge=0, le=86_400)] = Field(
        default=300, description="cron: firings late by at most this much all still fire."
    )
    event_type: str | None = Field(
        default=None, max_length=64, description="event: the type, e.g. `task.status_changed`."
    )
    filter: str | None = Field(
        default=None,
        max_length=2000,
        description="event: an expression over `trigger.event` that must be true.",
    )


class Trigger(BaseModel):
    """A trigger as stored."""

    trigger_id: uuid.UUID = Field(description="Its id.")
    name: str = Field(description="Its name.")
    workflow: str = Field(description="The workflow it starts.")
    kind: TriggerKind = Field(description="cron, webhook, event or manual.")
    is_enabled: bool = Field(description="Whether it fires.")
    inputs: dict[str, Any] = Field(description="Inputs of its runs.")
    version: int | None = Field(description="The pinned version, if any.")
    overlap: OverlapPolicy = Field(description="Overlap policy.")
    cron: str | None = Field(default=None, description="cron: expression.")
    timezone: str | None = Field(default=None, description="cron: time zone.")
    next_run_at: StoredUTC | None = Field(default=None, description="cron: next firing.")
    event_type: str | None = Field(description="event: type.")
    filter: str | None = Field(description="event: filter expression.")
    webhook_url: str | None = Field(default=None, description="webhook: where to POST.")
    secret: str | None = Field(
        default=None, description="webhook: the HMAC secret; shown once, when created."
    )
    fired: int = Field(description="Runs it started.")
    last_fired_at: StoredUTC | None = Field(description="When it last started one.")


class WebhookAccepted(BaseModel):
    """What a webhook delivery did."""

    delivery_id: str = Field(description="The delivery id (X-MissionControl-Delivery).")
    run_id: uuid.UUID | None = Field(description="The run it started (null when none started).")
    is_replay: bool = Field(description="True when this delivery id was seen before.")


class TemplateParameter(BaseModel):
    """A parameter of a template."""

    name: str = Field(description="Its name.")
    description: str = Field(description="What it is for.")
    default: Any = Field(default=None, description="Its default (required when null).")


class WorkflowTemplate(BaseModel):
    """A built-in workflow template."""

    name: str = Field(description="The template's name.")
    title: str = Field(description="Its title.")
    description: str = Field(description="What it does.")
    parameters: list[TemplateParameter] = Field(description="What to give it.")
    source: str = Field(description="The template text (YAML with `[[ parameter ]]` slots).")


class TemplateInstantiate(Schema):
    """Make a workflow from a template."""

    name: str | None = Field(
        default=None, max_length=100, description="The new workflow's name (default: template's)."
    )
    parameters: dict[str, Any] = Field(default_factory=dict, description="Template parameters.")
