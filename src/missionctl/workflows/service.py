"""Workflow definitions and their versions: save, list, diff, publish, tag, roll back.

Every save that changes the definition writes a new immutable version; saving the same
definition again returns the version that has it. Runs start on the version asked for, else the
published one, else the newest (`version_for_run`).
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from missionctl.agents.service import agents_by_name
from missionctl.audit.service import record_audit
from missionctl.common import Actor
from missionctl.engine import schedules
from missionctl.errors import InvalidDefinition, InvalidInput, NotFound
from missionctl.events.service import record_event
from missionctl.workflows.definition import (
    AgentNode,
    Definition,
    DefinitionErrors,
    Fault,
    MapNode,
    NodeSpec,
    SubworkflowNode,
    TaskNode,
    ToolNode,
    check_definition,
    place,
    positions,
    read_definition,
)
from missionctl.workflows.graph import Graph, compile_graph
from missionctl.workflows.models import WorkflowRow, WorkflowTriggerRow, WorkflowVersionRow
from missionctl.workflows.schemas import (
    VersionChange,
    VersionDiff,
    Workflow,
    WorkflowSaved,
    WorkflowVersion,
)
from missionctl.workflows.tools import TOOLS


def _row(session: Session, name: str, *, for_update: bool = False) -> WorkflowRow:
    query = select(WorkflowRow).where(WorkflowRow.name == name)
    if for_update:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound("workflow", name)
    return row


def _version_row(session: Session, workflow: WorkflowRow, version: int) -> WorkflowVersionRow:
    row = session.scalar(
        select(WorkflowVersionRow).where(
            WorkflowVersionRow.workflow_id == workflow.workflow_id,
            WorkflowVersionRow.version == version,
        )
    )
    if row is None:
        raise NotFound("workflow version", f"{workflow.name} v{version}")
    return row


def checksum_of(document: dict[str, Any]) -> str:
    """SHA-256 of a definition document in canonical JSON."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse(text: str, *, is_json: bool = False) -> Definition:
    """Read and check a definition's text; `InvalidDefinition` lists each fault's location."""
    try:
        if is_json:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DefinitionErrors(
                    [Fault("", f"not valid JSON: {exc.msg}", exc.lineno, exc.colno)]
                ) from None
            try:
                return check_definition(data)
            except DefinitionErrors as exc:
                places = positions(text)
                raise DefinitionErrors(
                    [
                        Fault(f.location, f.message, *places.get(f.location, (None, None)))
                        for f in exc.faults
                    ]
                ) from None
        return read_definition(text)
    except DefinitionErrors as exc:
        raise invalid(exc.faults) from None


def invalid(faults: list[Fault]) -> InvalidDefinition:
    """The error for a list of faults (the first one in the message, all of them listed)."""
    first = str(faults[0])
    more = f" (and {len(faults) - 1} more)" if len(faults) > 1 else ""
    return InvalidDefinition(f"{first}{more}", errors=[f.as_dict() for f in faults])


def _nodes_with_bodies(definition: Definition) -> Iterator[tuple[str, NodeSpec]]:
    for node_id, spec in definition.nodes.items():
        yield f"nodes.{node_id}", spec
        if isinstance(spec, MapNode):
            yield f"nodes.{node_id}.node", definition.map_body(node_id)


def check_references(session: Session, definition: Definition, text: str = "") -> None:
    """What only the database knows: agents, tools and subworkflows exist."""
    faults: list[Fault] = []
    wanted_agents: dict[str, str] = {}
    for where, spec in _nodes_with_bodies(definition):
        if isinstance(spec, AgentNode):
            wanted_agents.setdefault(spec.agent, f"{where}.agent")
        elif isinstance(spec, TaskNode):
            for index, name in enumerate(spec.assign):
                wanted_agents.setdefault(name, f"{where}.assign[{index}]")
        elif isinstance(spec, ToolNode) and spec.tool not in TOOLS:
            known = ", ".join(TOOLS.names())
            faults.append(Fault(f"{where}.tool", f"no tool {spec.tool!r} (tools: {known})"))
        elif isinstance(spec, SubworkflowNode):
            if spec.workflow == definition.name:
                faults.append(Fault(f"{where}.workflow", "a workflow cannot run itself"))
            elif (
                session.scalar(select(WorkflowRow.name).where(WorkflowRow.name == spec.workflow))
                is None
            ):
                faults.append(Fault(f"{where}.workflow", f"no workflow {spec.workflow!r}"))
    found = agents_by_name(session, wanted_agents)
    for name, where in wanted_agents.items():
        if name not in found:
            faults.append(Fault(where, f"no agent {name!r}"))
    if faults:
        raise invalid(place(faults, text) if text else faults)


def save_definition(
    session: Session, text: str, *, actor: Actor, is_json: bool = False, note: str = ""
) -> WorkflowSaved:
    """Check a definition and save it as the workflow's next version (or find the same one)."""
    definition = parse(text, is_json=is_json)
    check_references(session, definition, text)
    document = definition.as_document()
    checksum = checksum_of(document)
    row = session.scalar(
        select(WorkflowRow).where(WorkflowRow.name == definition.name).with_for_update()
    )
    if row is not None:
        latest = _version_row(session, row, row.latest_version)
        if latest.checksum == checksum:
            return WorkflowSaved(
                name=row.name, version=latest.version, is_new_version=False, workflow=_workflow(row)
            )
        row.latest_version += 1
        row.description = definition.description
    else:
        row = WorkflowRow(
            name=definition.name, description=definition.description, latest_version=1, tags={}
        )
        session.add(row)
        session.flush()
    version = WorkflowVersionRow(
        workflow_id=row.workflow_id,
        version=row.latest_version,
        definition=document,
        source=text,
        checksum=checksum,
        note=note[:500],
        created_by=str(actor.actor_id) if actor.actor_id else actor.kind.value,
    )
    session.add(version)
    session.flush()
    _record(session, "workflow.saved", actor, row, version=version.version)
    return WorkflowSaved(
        name=row.name, version=version.version, is_new_version=True, workflow=_workflow(row)
    )


def _record(session: Session, action: str, actor: Actor, row: WorkflowRow, **details: Any) -> None:
    summary = f"Workflow {row.name!r}: {action.rsplit('.', maxsplit=1)[-1].replace('_', ' ')}"
    if "version" in details:
        summary += f" v{details['version']}"
    record_event(
        session,
        action,
        actor=actor,
        subject_kind="workflow",
        subject_id=row.workflow_id,
        summary=summary,
        payload={"workflow": row.name, **details},
    )
    record_audit(
        session,
        action,
        actor=actor,
        subject_kind="workflow",
        subject_id=row.workflow_id,
        details={"workflow": row.name, **details},
    )


def _workflow(row: WorkflowRow) -> Workflow:
    return Workflow.model_validate(row)


def list_workflows(session: Session) -> list[Workflow]:
    """Every workflow of the tenant, by name."""
    rows = session.scalars(select(WorkflowRow).order_by(WorkflowRow.name))
    return [_workflow(r) for r in rows]


def get_workflow(session: Session, name: str) -> Workflow:
    """One workflow."""
    return _workflow(_row(session, name))


def _version(row: WorkflowRow, version: WorkflowVersionRow) -> WorkflowVersion:
    return WorkflowVersion(
        name=row.name,
        version=version.version,
        checksum=version.checksum,
        note=version.note,
        created_by=version.created_by,
        created_at=version.created_at,
        definition=version.definition,
        source=version.source,
        tags=sorted(t for t, v in (row.tags or {}).items() if v == version.version),
        is_published=row.published_version == version.version,
    )


def list_versions(session: Session, name: str) -> list[WorkflowVersion]:
    """Every version of a workflow, newest first."""
    row = _row(session, name)
    versions = session.scalars(
        select(WorkflowVersionRow)
        .where(WorkflowVersionRow.workflow_id == row.workflow_id)
        .order_by(WorkflowVersionRow.version.desc())
    )
    return [_version(row, v) for v in versions]


def get_version(session: Session, name: str, version: int) -> WorkflowVersion:
    """One version."""
    row = _row(session, name)
    return _version(row, _version_row(session, row, version))


def _changes(before: Any, after: Any, path: str) -> Iterator[VersionChange]:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in list(before) + [k for k in after if k not in before]:
            where = f"{path}.{key}" if path else str(key)
            if key not in after:
                yield VersionChange(path=where, change="removed", before=before[key])
            elif key not in before:
                yield VersionChange(path=where, change="added", after=after[key])
            else:
                yield from _changes(before[key], after[key], where)
    elif before != after:
        yield VersionChange(path=path, change="changed", before=before, after=after)


def diff_versions(session: Session, name: str, from_version: int, to_version: int) -> VersionDiff:
    """How two versions differ: by path, and as a unified diff of their sources."""
    row = _row(session, name)
    old = _version_row(session, row, from_version)
    new = _version_row(session, row, to_version)
    lines = difflib.unified_diff(
        old.source.splitlines(),
        new.source.splitlines(),
        fromfile=f"{name} v{from_version}",
        tofile=f"{name} v{to_version}",
        lineterm="",
    )
    return VersionDiff(
        name=name,
        from_version=from_version,
        to_version=to_version,
        changes=list(_changes(old.definition, new.definition, "")),
        unified="\n".join(lines),
    )


def publish_version(session: Session, name: str, version: int, *, actor: Actor) -> Workflow:
    """Make `version` the one runs, schedules and triggers start on by default."""
    row = _row(session, name, for_update=True)
    _version_row(session, row, version)
    row.published_version = version
    session.flush()
    _record(session, "workflow.published", actor, row, version=version)
    return _workflow(row)


def tag_version(session: Session, name: str, tag: str, version: int, *, actor: Actor) -> Workflow:
    """Name a version (a tag moves when given to another version)."""
    row = _row(session, name, for_update=True)
    _version_row(session, row, version)
    row.tags = {**(row.tags or {}), tag: version}
    session.flush()
    _record(session, "workflow.tagged", actor, row, version=version, tag=tag)
    return _workflow(row)


def rollback(session: Session, name: str, version: int, *, actor: Actor) -> WorkflowSaved:
    """Save an old version's definition as the newest version, and publish it."""
    row = _row(session, name, for_update=True)
    old = _version_row(session, row, version)
    row.latest_version += 1
    copy = WorkflowVersionRow(
        workflow_id=row.workflow_id,
        version=row.latest_version,
        definition=old.definition,
        source=old.source,
        checksum=old.checksum,
        note=f"rollback to v{version}",
        created_by=str(actor.actor_id) if actor.actor_id else actor.kind.value,
    )
    session.add(copy)
    row.published_version = row.latest_version
    session.flush()
    _record(session, "workflow.rolled_back", actor, row, version=copy.version, to=version)
    return WorkflowSaved(
        name=row.name, version=copy.version, is_new_version=True, workflow=_workflow(row)
    )


def delete_workflow(session: Session, name: str, *, actor: Actor) -> None:
    """Delete a workflow with its versions, runs and triggers (and their cron schedules)."""
    row = _row(session, name, for_update=True)
    scheduled = session.scalars(
        select(WorkflowTriggerRow.schedule_id).where(
            WorkflowTriggerRow.workflow_id == row.workflow_id,
            WorkflowTriggerRow.schedule_id.is_not(None),
        )
    ).all()
    for schedule_id in scheduled:
        if schedule_id is not None:
            with contextlib.suppress(NotFound):
                schedules.delete_schedule(session, schedule_id, actor=actor)
    _record(session, "workflow.deleted", actor, row)
    session.delete(row)
    session.flush()


def version_for_run(
    session: Session, name: str, version: int | None = None, tag: str | None = None
) -> tuple[WorkflowRow, WorkflowVersionRow]:
    """The workflow and the version a new run pins."""
    row = _row(session, name)
    if tag is not None:
        if tag not in (row.tags or {}):
            raise InvalidInput(f"workflow {name!r} has no tag {tag!r}", field="tag")
        version = int(row.tags[tag])
    chosen = version or row.published_version or row.latest_version
    return row, _version_row(session, row, chosen)


_GRAPHS: dict[uuid.UUID, Graph] = {}
_GRAPHS_KEPT = 512


def graph_of(version: WorkflowVersionRow) -> Graph:
    """The version's compiled graph (kept per process: versions never change)."""
    graph = _GRAPHS.get(version.version_id)
    if graph is None:
        graph = compile_graph(check_definition(version.definition))
        if len(_GRAPHS) >= _GRAPHS_KEPT:
            _GRAPHS.pop(next(iter(_GRAPHS)))
        _GRAPHS[version.version_id] = graph
    return graph


def drawing(definition: Definition) -> dict[str, Any]:
    """Nodes and edges to draw a definition (the dashboard lays them out)."""
    graph = compile_graph(definition)
    nodes = [
        {"id": node_id, "type": spec.type, "needs": spec.needs, "description": spec.description}
        for node_id, spec in definition.nodes.items()
    ]
    edges: list[dict[str, str]] = []
    for node_id, spec in definition.nodes.items():
        edges.extend({"source": n, "target": node_id, "kind": "needs"} for n in spec.needs)
    for child, parent in graph.owner.items():
        parent_spec = definition.nodes[parent]
        if parent_spec.type == "parallel":
            edges.append({"source": child, "target": parent, "kind": "join"})
        else:
            edges.append({"source": parent, "target": child, "kind": "branch"})
    return {"nodes": nodes, "edges": edges, "order": list(graph.order)}
