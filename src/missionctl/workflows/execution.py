"""The runner: one `workflow.run` job drives one run as far as it can go, step by step.

Each round is one unit of work: it reads the run's status (a pause or cancel stops new work),
skips what the graph says to skip, decides conditions and switches, starts approvals, waits,
tasks and child runs (which park the run), runs transactional tools inside the same unit of work
(so their effects and their step commit together), and starts the other work nodes (model calls,
agents, HTTP, other tools) on the workflow loop. Their results are recorded as they finish, one
unit of work per batch. A step's row is written before its work starts, so a worker killed
mid-step leaves a `running` step that the next runner starts again (the attempt is counted);
finished steps are never run again.

When nothing is running and nothing can start, the run ends (`succeeded`, `failed`: on the
dead-letter list) or parks (`waiting`) until a wake-up: an approval, a timer, a task done, a
child run ended.
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from missionctl.agents.service import find_agent_by_name
from missionctl.board.schemas import TaskCreate
from missionctl.board.service import create_task
from missionctl.common import Actor
from missionctl.db import utcnow
from missionctl.engine.context import JobContext
from missionctl.errors import MissionControlError
from missionctl.workflows import expressions
from missionctl.workflows.cache import cache_key, cached_output, store_cache
from missionctl.workflows.definition import (
    AgentNode,
    ApprovalNode,
    ConditionNode,
    MapNode,
    NodeSpec,
    ParallelNode,
    SubworkflowNode,
    SwitchNode,
    TaskNode,
    ToolNode,
    WaitNode,
    expression_source,
)
from missionctl.workflows.expressions import ExpressionError
from missionctl.workflows.graph import (
    RunOutcome,
    StepStatus,
    next_moves,
    outcome,
)
from missionctl.workflows.models import (
    WorkflowRunRow,
    WorkflowStepRow,
    WorkflowVersionRow,
)
from missionctl.workflows.nodes import (
    AgentBrief,
    NodeCall,
    NodeFailure,
    NodeResult,
    NodeWorker,
    classify,
    should_retry,
)
from missionctl.workflows.runs import (
    finish_step,
    record_run_event,
    run_row,
    schedule_timer,
    start_next_queued,
    start_run,
    steps_of,
    wake_run,
)
from missionctl.workflows.schemas import FINAL_RUN_STATUSES, RunCreate, RunStatus
from missionctl.workflows.service import graph_of
from missionctl.workflows.state import (
    Outputs,
    RunState,
    backoff,
    inputs_of,
    variables_of,
)
from missionctl.workflows.tools import ToolCall, ToolRegistry

_SETTLED = frozenset(
    {StepStatus.SUCCEEDED.value, StepStatus.SKIPPED.value, StepStatus.FAILED.value}
)
ROUND_ITEMS = 200  # map items started in one round
BATCH_SECONDS = 0.05  # longest unit of work the runner keeps open for quick steps
SYSTEM = Actor.system()
Submit = Callable[[Any], concurrent.futures.Future[Any]]
Launches = list[tuple[str, NodeSpec, NodeCall]]  # work to start on the loop after the commit


@dataclass
class _Flight:
    """A work node running on the loop."""

    key: str
    spec: NodeSpec


class Runner:
    """Drives one run for one job attempt."""

    def __init__(self, job: JobContext, worker: NodeWorker, tools: ToolRegistry, submit: Submit):
        self.job = job
        self.worker = worker
        self.tools = tools
        self.submit = submit
        self.flights: dict[concurrent.futures.Future[Any], _Flight] = {}
        self.state: RunState | None = None

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Drive the run until it ends or parks; the job's result says how far it got."""
        run_id = uuid.UUID(str(self.job.payload["run_id"]))
        with self.job.transaction() as session:
            self.state = self._claim(session, run_id)
        if self.state is None:
            return {"run_id": str(run_id), "status": "not_runnable"}
        state = self.state
        while True:
            launches: Launches = []
            is_over = False
            with self.job.transaction() as session:
                progressed = self._rounds(session, state, launches)
                if not progressed and not launches and not self.flights:
                    is_over = not self._settle(session, state)
            if is_over:
                return {"run_id": str(run_id), "status": state.status}
            for key, spec, call in launches:
                future = self.submit(self.worker.run(call))
                self.flights[future] = _Flight(key, spec)
            if self.flights:
                self._collect()

    def _rounds(self, session: Session, state: RunState, launches: Launches) -> bool:
        """Rounds in one unit of work while they only do work done inside it (decisions,
        transactional tools), for at most `BATCH_SECONDS`: each step still commits with its
        effects, and a chain of quick steps costs one commit instead of one each."""
        deadline = time.monotonic() + BATCH_SECONDS
        progressed = False
        is_first = True
        while self._round(session, state, launches, is_first=is_first):
            progressed, is_first = True, False
            if launches or time.monotonic() > deadline:
                break
        return progressed

    def _claim(self, session: Session, run_id: uuid.UUID) -> RunState | None:
        run = run_row(session, run_id, for_update=True)
        if RunStatus(run.status) in FINAL_RUN_STATUSES or run.status == RunStatus.PAUSED:
            if run.runner_job_id == self.job.job_id:
                run.runner_job_id = None
            return None
        run.runner_job_id = self.job.job_id
        run.wake_pending = False
        graph = graph_of(session.get_one(WorkflowVersionRow, run.version_id))
        if run.started_at is None:
            run.started_at = utcnow()
            run.variables = variables_of(graph.definition, run.inputs)
            record_run_event(
                session, run, "started", SYSTEM, f"run of {run.workflow_name!r} started"
            )
        run.status = RunStatus.RUNNING.value
        state = RunState(
            run_id=run.run_id,
            tenant_id=run.tenant_id,
            workflow=run.workflow_name,
            graph=graph,
            inputs=dict(run.inputs),
            variables=dict(run.variables or {}),
        )
        for step in steps_of(session, run_id):
            if step.status == StepStatus.RUNNING.value and step.node_type != "map":
                step.status = StepStatus.PENDING.value  # its worker stopped mid-step: run it again
                step.logs = [*step.logs, f"attempt {step.attempts} interrupted; running it again"]
            state.steps[step.step_key] = step
        session.flush()
        return state

    def _reload(self, session: Session, state: RunState) -> None:
        state.steps = {s.step_key: s for s in steps_of(session, state.run_id, fresh=True)}

    @staticmethod
    def _attach(session: Session, state: RunState) -> None:
        """Bring the steps that can still change into this unit of work (rows outlive units of
        work here: sessions do not expire them on commit)."""
        for row in state.steps.values():
            if row.status not in _SETTLED and row not in session:
                session.add(row)

    # -- one round --------------------------------------------------------------------------

    def _round(
        self,
        session: Session,
        state: RunState,
        launches: Launches,
        *,
        is_first: bool,
    ) -> bool:
        """Skip, decide and start what can be; True when anything changed."""
        if is_first:  # what others changed since: a pause, a cancel, a wake-up
            run = session.get_one(WorkflowRunRow, state.run_id, populate_existing=True)
            state.status = run.status
            if run.status != RunStatus.RUNNING.value:
                return False  # paused or cancelled: let what runs finish, start nothing
            self._attach(session, state)
            if run.wake_pending:
                run.wake_pending = False
                self._reload(session, state)
        progressed = self._due_timers(session, state)
        statuses = {n: state.status_of(n) for n in state.graph.order}
        if StepStatus.FAILED in statuses.values():
            return progressed
        moves = next_moves(state.graph, statuses, Outputs(state.steps))
        for node_id in moves.skipped:
            self._new_step(session, state, node_id, node_id, StepStatus.SKIPPED)
            progressed = True
        for node_id in moves.ready:
            progressed |= self._start(session, state, node_id, launches)
        for node_id in state.map_nodes:
            if state.status_of(node_id) is StepStatus.RUNNING:
                progressed |= self._advance_map(session, state, node_id, launches)
        return progressed

    def _due_timers(self, session: Session, state: RunState) -> bool:
        now = utcnow()
        progressed = False
        for row in state.steps.values():
            if row.status != StepStatus.WAITING.value or row.wake_at is None or row.wake_at > now:
                continue
            if row.details.get("retry"):
                row.status = StepStatus.PENDING.value
                row.wake_at = None
            elif row.node_type == "wait":
                finish_step(row, StepStatus.SUCCEEDED, {"waited_until": now.isoformat()})
                self._count(session, state)
            elif row.node_type == "approval":
                spec = state.definition.nodes[row.node_id]
                assert isinstance(spec, ApprovalNode)
                approved = spec.default == "approve"
                output = {
                    "approved": approved,
                    "comment": "no decision before the timeout",
                    "decided_by": "timeout",
                    "decided_at": now.isoformat(),
                    "timed_out": True,
                }
                finish_step(row, StepStatus.SUCCEEDED, output)
                row.logs = [*row.logs, f"timed out: {spec.default} by default"]
                self._count(session, state)
            else:
                continue
            progressed = True
        return progressed

    # -- starting nodes ---------------------------------------------------------------------

    def _new_step(
        self,
        session: Session,
        state: RunState,
        key: str,
        node_id: str,
        status: StepStatus,
        *,
        node_type: str | None = None,
        item_index: int | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> WorkflowStepRow:
        row = state.steps.get(key)
        if row is None:
            spec = state.definition.nodes[node_id]
            row = WorkflowStepRow(
                run_id=state.run_id,
                step_key=key,
                node_id=node_id,
                node_type=node_type or spec.type,
                item_index=item_index,
                attempts=0,
                logs=[],
                details={},
                cost_nanos=0,
                is_cache_hit=False,
                started_at=utcnow(),
            )
            session.add(row)
            state.steps[key] = row
        else:  # a step run again: its node may have changed (a run resumed on a fixed version)
            row.node_type = node_type or state.definition.nodes[node_id].type
        row.status = status.value
        row.inputs = inputs if inputs is not None else row.inputs
        row.job_id = self.job.job_id
        if status in (StepStatus.RUNNING, StepStatus.WAITING):
            row.attempts += 1  # one more attempt starts
        if status is StepStatus.SKIPPED:
            finish_step(row, StepStatus.SKIPPED)
        return row

    def _start(
        self,
        session: Session,
        state: RunState,
        node_id: str,
        launches: Launches,
    ) -> bool:
        spec = state.definition.nodes[node_id]
        existed = node_id in state.steps
        writes = self._writes(spec)
        try:
            if writes:  # a node that cannot start leaves nothing half-done
                with session.begin_nested():
                    self._start_in(session, state, node_id, spec, launches)
            else:
                self._start_in(session, state, node_id, spec, launches)
        except (NodeFailure, ExpressionError, MissionControlError, ValueError) as exc:
            if writes and not existed:
                state.steps.pop(node_id, None)  # its row went with the savepoint
            row = state.steps.get(node_id)
            if row is None or row.status == StepStatus.PENDING.value:
                row = self._new_step(session, state, node_id, node_id, StepStatus.RUNNING)
            self._failed(session, state, row, spec, classify(exc))
        return True

    def _writes(self, spec: NodeSpec) -> bool:
        """Whether starting the node writes more than its step (then it takes a savepoint)."""
        if isinstance(spec, TaskNode | SubworkflowNode):
            return True
        if isinstance(spec, ToolNode) and spec.tool in self.tools:
            tool = self.tools.get(spec.tool)
            return tool.is_transactional and not tool.is_pure
        return False

    def _start_in(
        self,
        session: Session,
        state: RunState,
        node_id: str,
        spec: NodeSpec,
        launches: Launches,
    ) -> None:
        if isinstance(spec, ConditionNode | SwitchNode | ParallelNode):
            self._decide(session, state, node_id, spec)
        elif isinstance(spec, MapNode):
            items = expressions.parse(expression_source(spec.items)).evaluate(state.scope())
            if not isinstance(items, list):
                raise NodeFailure("expression", f"items is not a list: {str(items)[:200]}")
            row = self._new_step(
                session,
                state,
                node_id,
                node_id,
                StepStatus.RUNNING,
                inputs={"count": len(items)},
            )
            row.details = {"items": items}
            self._advance_map(session, state, node_id, launches)
        elif isinstance(spec, ApprovalNode | WaitNode | TaskNode | SubworkflowNode):
            self._park(session, state, node_id, spec)
        else:
            self._work(session, state, node_id, node_id, spec, state.scope(), launches)

    def _decide(self, session: Session, state: RunState, node_id: str, spec: NodeSpec) -> None:
        scope = state.scope()
        output: dict[str, Any]
        if isinstance(spec, ConditionNode):
            result = bool(expressions.parse(expression_source(spec.if_)).evaluate(scope))
            output = {"result": result, "branch": "then" if result else "else"}
        elif isinstance(spec, SwitchNode):
            value = expressions.parse(expression_source(spec.value)).evaluate(scope)
            branch = str(value).lower() if isinstance(value, bool) else str(value)
            output = {"value": value, "branch": branch if branch in spec.cases else None}
        else:
            assert isinstance(spec, ParallelNode)
            output = {m: state.steps[m].output for m in spec.nodes if m in state.steps}
        row = self._new_step(session, state, node_id, node_id, StepStatus.RUNNING)
        finish_step(row, StepStatus.SUCCEEDED, output)
        self._count(session, state)

    def _park(self, session: Session, state: RunState, node_id: str, spec: NodeSpec) -> None:
        """Start a node that waits for something outside the run."""
        scope = state.scope()
        row = self._new_step(session, state, node_id, node_id, StepStatus.WAITING)
        now = utcnow()
        if isinstance(spec, ApprovalNode):
            message = expressions.render(spec.message, scope)
            row.inputs = {"message": message}
            row.details = {"message": message, "default": spec.default}
            if spec.timeout_seconds:
                schedule_timer(session, row, now + timedelta(seconds=spec.timeout_seconds))
            run = session.get_one(WorkflowRunRow, state.run_id)
            record_run_event(
                session,
                run,
                "approval_requested",
                SYSTEM,
                f"{node_id!r} waits for approval: {str(message)[:200]}",
                node=node_id,
                message=message,
            )
        elif isinstance(spec, WaitNode):
            until = now + timedelta(seconds=spec.seconds or 0)
            if spec.until:
                rendered = expressions.render(spec.until, scope)
                try:
                    until = datetime.fromisoformat(str(rendered))
                except ValueError:
                    raise NodeFailure(
                        "expression", f"until is not an ISO time: {rendered!r}"
                    ) from None
                if until.tzinfo is None:
                    raise NodeFailure("expression", f"until has no time zone: {rendered!r}")
            row.inputs = {"until": until.isoformat()}
            schedule_timer(session, row, max(until, now))
        elif isinstance(spec, TaskNode):
            self._park_on_task(session, state, row, spec, scope)
        elif isinstance(spec, SubworkflowNode):
            inputs = expressions.render(spec.inputs, scope)
            row.inputs = {"workflow": spec.workflow, "inputs": inputs}
            child = start_run(
                session,
                spec.workflow,
                RunCreate(inputs=inputs, version=spec.version),
                actor=SYSTEM,
                trigger_kind="subworkflow",
                parent=(state.run_id, row.step_key),
            )
            row.details = {"run_id": str(child.run_id)}
            row.logs = [*row.logs, f"started run {child.run_id} of {spec.workflow!r}"]

    def _park_on_task(
        self,
        session: Session,
        state: RunState,
        row: WorkflowStepRow,
        spec: TaskNode,
        scope: dict[str, Any],
    ) -> None:
        title = str(expressions.render(spec.title, scope))[:200]
        description = str(expressions.render(spec.description, scope))
        assignees = []
        for name in spec.assign:
            agent = find_agent_by_name(session, name)
            if agent is None:
                raise NodeFailure("invalid", f"no agent {name!r}")
            assignees.append(agent.agent_id)
        task = create_task(
            session,
            TaskCreate(
                title=title,
                description=description + f"\n\n(from workflow run {state.run_id})",
                priority=spec.priority,
                assignee_ids=assignees,
            ),
            actor=SYSTEM,
        )
        row.inputs = {"title": title, "description": description, "assign": spec.assign}
        row.details = {"task_id": str(task.task_id)}
        row.logs = [*row.logs, f"created task {task.task_id}"]

    def _work(
        self,
        session: Session,
        state: RunState,
        key: str,
        node_id: str,
        spec: NodeSpec,
        scope: dict[str, Any],
        launches: Launches,
        item_index: int | None = None,
    ) -> None:
        """Start a work node or a map item: from the cache, in this unit of work, or on the loop."""
        inputs = inputs_of(spec, scope)
        row = self._new_step(
            session,
            state,
            key,
            node_id,
            StepStatus.RUNNING,
            node_type=spec.type,
            item_index=item_index,
            inputs=inputs,
        )
        if spec.cache:
            is_hit, output = cached_output(session, cache_key(state.tenant_id, spec, inputs))
            if is_hit:
                row.is_cache_hit = True
                row.logs = [*row.logs, "output from the cache"]
                self._succeeded(session, state, row, spec, NodeResult(output))
                return
        if isinstance(spec, ToolNode) and self.tools.get(spec.tool).is_transactional:
            tool = self.tools.get(spec.tool)
            tool_call = ToolCall(state.tenant_id, state.run_id, key, state.workflow)
            try:
                if tool.is_pure or session.in_nested_transaction():  # nothing to undo here
                    output = tool.fn(session, inputs.get("args") or {}, tool_call)
                else:
                    with session.begin_nested():
                        output = tool.fn(session, inputs.get("args") or {}, tool_call)
            except Exception as exc:
                self._failed(session, state, row, spec, classify(exc))
                return
            self._succeeded(session, state, row, spec, NodeResult(output))
            return
        agent = None
        if isinstance(spec, AgentNode):
            found = find_agent_by_name(session, spec.agent)
            if found is None:
                self._failed(
                    session, state, row, spec, NodeFailure("invalid", f"no agent {spec.agent!r}")
                )
                return
            agent = AgentBrief(
                found.agent_id,
                found.name,
                found.model,
                f"{found.role}\n\n{found.instructions}".strip(),
            )
        call = NodeCall(
            tenant_id=state.tenant_id,
            run_id=state.run_id,
            workflow=state.workflow,
            step_key=key,
            node_type=spec.type,
            inputs=inputs,
            timeout_seconds=spec.timeout_seconds,
            breaker=getattr(spec, "breaker", None),
            agent=agent,
        )
        launches.append((key, spec, call))

    def _advance_map(
        self,
        session: Session,
        state: RunState,
        node_id: str,
        launches: Launches,
    ) -> bool:
        spec = state.definition.nodes[node_id]
        assert isinstance(spec, MapNode)
        map_row = state.steps[node_id]
        items: list[Any] = map_row.details.get("items", [])
        body = state.definition.map_body(node_id)
        keys = [f"{node_id}[{i}]" for i in range(len(items))]
        statuses = [state.status_of(k) for k in keys]
        if any(s is StepStatus.FAILED for s in statuses):
            return False
        if all(s is StepStatus.SUCCEEDED for s in statuses):
            finish_step(
                map_row, StepStatus.SUCCEEDED, {"items": [state.steps[k].output for k in keys]}
            )
            self._count(session, state)
            return True
        in_flight = sum(1 for s in statuses if s in (StepStatus.RUNNING, StepStatus.WAITING))
        room = spec.concurrency - in_flight
        is_transactional = isinstance(body, ToolNode) and self.tools.get(body.tool).is_transactional
        started = 0
        base = state.scope()
        for index, (key, status) in enumerate(zip(keys, statuses, strict=True)):
            if room <= 0 and not is_transactional:
                break
            if started >= ROUND_ITEMS:
                break
            if status is not StepStatus.PENDING:
                continue
            scope = {**base, "item": items[index], "index": index}
            try:
                self._work(session, state, key, node_id, body, scope, launches, item_index=index)
            except (NodeFailure, ExpressionError) as exc:
                row = self._new_step(
                    session,
                    state,
                    key,
                    node_id,
                    StepStatus.RUNNING,
                    node_type=body.type,
                    item_index=index,
                )
                self._failed(session, state, row, body, classify(exc))
            room -= 1
            started += 1
        return started > 0

    # -- results ----------------------------------------------------------------------------

    def _collect(self) -> None:
        """Wait for at least one running node, then record every one that has finished."""
        done, _ = concurrent.futures.wait(
            self.flights,
            timeout=min(5.0, self.job.lease_seconds / 3),
            return_when=concurrent.futures.FIRST_COMPLETED,
        )
        if not done:
            self.job.check()
            return
        state = self.state
        assert state is not None
        with self.job.transaction() as session:
            self._attach(session, state)
            for future in done:
                flight = self.flights.pop(future)
                row = state.steps[flight.key]
                try:
                    result = future.result()
                except Exception as exc:
                    self._failed(session, state, row, flight.spec, classify(exc))
                else:
                    self._succeeded(session, state, row, flight.spec, result)
            session.flush()

    def _succeeded(
        self,
        session: Session,
        state: RunState,
        row: WorkflowStepRow,
        spec: NodeSpec,
        result: NodeResult,
    ) -> None:
        finish_step(row, StepStatus.SUCCEEDED, result.output)
        row.error = None
        row.error_class = None
        row.cost_nanos = (row.cost_nanos or 0) + result.cost_nanos
        if result.logs:
            row.logs = [*row.logs, *result.logs]
        if spec.cache and not row.is_cache_hit:
            store_cache(session, state.tenant_id, spec, row.inputs or {}, result.output)
        self._count(session, state, cost=result.cost_nanos)

    def _failed(
        self,
        session: Session,
        state: RunState,
        row: WorkflowStepRow,
        spec: NodeSpec,
        failure: NodeFailure,
    ) -> None:
        row.error = failure.message
        row.error_class = failure.error_class
        line = f"attempt {row.attempts} failed ({failure.error_class}): {failure.message}"
        if should_retry(spec.retry, failure.error_class, row.attempts):
            assert spec.retry is not None
            delay = backoff(
                spec.retry.backoff_seconds,
                spec.retry.max_backoff_seconds,
                spec.retry.jitter,
                row.attempts,
            )
            row.status = StepStatus.WAITING.value
            row.details = {**row.details, "retry": True}
            row.logs = [*row.logs, f"{line}; retrying in {delay:.2f} s"]
            schedule_timer(session, row, utcnow() + timedelta(seconds=delay))
            return
        row.logs = [*row.logs, line]
        finish_step(row, StepStatus.FAILED, row.output)
        if row.item_index is not None:
            map_row = state.steps[row.node_id]
            map_row.error = f"item {row.item_index}: {failure.message}"
            map_row.error_class = failure.error_class
            finish_step(map_row, StepStatus.FAILED)

    def _count(self, session: Session, state: RunState, cost: int = 0) -> None:
        run = session.get_one(WorkflowRunRow, state.run_id)
        run.steps_done += 1
        if cost:
            run.cost_nanos += cost

    # -- the end of a runner ----------------------------------------------------------------

    def _settle(self, session: Session, state: RunState) -> bool:
        """End or park the run; True when a wake-up arrived meanwhile (go round again)."""
        run = run_row(session, state.run_id, for_update=True)
        state.status = run.status
        if run.wake_pending and run.status == RunStatus.RUNNING.value:
            run.wake_pending = False
            self._reload(session, state)
            return True
        if run.runner_job_id == self.job.job_id:
            run.runner_job_id = None
        if run.status != RunStatus.RUNNING.value:
            return False  # paused or cancelled meanwhile
        self._attach(session, state)
        statuses = {n: state.status_of(n) for n in state.graph.order}
        result = outcome(state.graph, statuses)
        now = utcnow()
        if result is RunOutcome.SUCCEEDED:
            try:
                run.outputs = expressions.render(state.definition.outputs, state.scope())
            except ExpressionError as exc:
                return self._fail_run(session, run, "outputs", f"outputs: {exc}")
            run.status = RunStatus.SUCCEEDED.value
            run.finished_at = now
            record_run_event(
                session, run, "succeeded", SYSTEM, f"run of {run.workflow_name!r} succeeded"
            )
            self._tell_parent(session, run, StepStatus.SUCCEEDED, run.outputs)
            start_next_queued(session, run)
        elif result is RunOutcome.FAILED:
            failed = [r for r in state.steps.values() if r.status == StepStatus.FAILED.value]
            first = min(failed, key=lambda r: (r.item_index is None, r.started_at))
            return self._fail_run(session, run, first.step_key, first.error or "failed")
        else:
            run.status = RunStatus.WAITING.value
        state.status = run.status
        session.flush()
        return False

    def _fail_run(self, session: Session, run: WorkflowRunRow, step_key: str, error: str) -> bool:
        run.status = RunStatus.FAILED.value
        run.failed_step = step_key
        run.error = error
        run.finished_at = utcnow()
        if self.state is not None:
            self.state.status = run.status
        record_run_event(
            session,
            run,
            "failed",
            SYSTEM,
            f"run of {run.workflow_name!r} failed at {step_key!r}: {error[:200]}",
            step=step_key,
            error=error[:1000],
        )
        self._tell_parent(
            session,
            run,
            StepStatus.FAILED,
            None,
            error=f"child run {run.run_id} failed at {step_key}: {error}",
        )
        start_next_queued(session, run)
        session.flush()
        return False

    def _tell_parent(
        self,
        session: Session,
        run: WorkflowRunRow,
        status: StepStatus,
        output: Any,
        error: str | None = None,
    ) -> None:
        if run.parent_run_id is None or run.parent_step is None:
            return
        step = session.scalar(
            select(WorkflowStepRow).where(
                WorkflowStepRow.run_id == run.parent_run_id,
                WorkflowStepRow.step_key == run.parent_step,
            )
        )
        if step is None or step.status != StepStatus.WAITING.value:
            return
        finish_step(step, status, output)
        if error:
            step.error, step.error_class = error, "subworkflow"
        else:
            run_row(session, run.parent_run_id).steps_done += 1
        wake_run(session, run.parent_run_id)
