"""An agent's turn, run as an `agent.turn` job that survives being killed at any point.

    begin   (step)  take the agent's turn slot; hand over notifications; choose the work
                    (`agenda`); pin the agent's definition and version; build the context
    loop            the tool loop on the routed model (pydantic-ai `Agent`): every model
                    response is checkpointed (`model:N`), every tool's effect commits with its
                    own checkpoint (`tool:...`, see `tools`); the guard stops runaway loops
    finish  (step)  apply what the turn produced, in code: a plan becomes subtasks, a verdict
                    approves or returns the work, a report sends the task to review, a deferred
                    `ask_human` parks the turn as a question; record `agent.turn_finished`

A worker killed anywhere re-runs the job: finished steps come back from their checkpoints, so
the model is not asked again for what it already answered and no tool's effect repeats. A model
response that arrived but was not yet checkpointed is requested again (and metered again): the
one thing a crash can cost is that request, never a duplicate message or document.

Budgets fail closed: a refused call ends the turn (`budget`); it is taken up again when the
budget is raised. An unavailable model makes the job retry later, resuming from its
checkpoints. A turn that reaches its step limit or repeats an identical call is stopped and
escalated.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from pydantic_ai import Agent, DeferredToolRequests, DeferredToolResults
from pydantic_ai.exceptions import UnexpectedModelBehavior, UsageLimitExceeded
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import UsageLimits
from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

from missionctl.agents.schemas import Agent as AgentInfo
from missionctl.agents.service import get_agent
from missionctl.board import service as board
from missionctl.board.schemas import TaskStatus, TaskStatusChange
from missionctl.common import Actor
from missionctl.comms.questions import ask_question
from missionctl.comms.schemas import QuestionCreate
from missionctl.db import write_priority
from missionctl.documents.schemas import DocumentCreate, DocumentFilter
from missionctl.documents.service import create_document, list_documents
from missionctl.engine.context import JobContext, Uncheckpointed
from missionctl.errors import BudgetExhausted, MissionControlError, ModelUnavailable, RetryLater
from missionctl.events.service import record_event
from missionctl.models.metering import CallContext
from missionctl.models.models import UsageRow
from missionctl.models.routed import RoutedModel
from missionctl.permissions import Role
from missionctl.runtime import agenda, service
from missionctl.runtime.agenda import ANSWER, PLAN, REVIEW, WRITE, Work
from missionctl.runtime.context import build_context
from missionctl.runtime.guards import TurnGuard, TurnStopped
from missionctl.runtime.orchestration import (
    Plan,
    ReviewVerdict,
    apply_plan,
    apply_review,
    escalate_stopped_turn,
    post_update,
)
from missionctl.runtime.schemas import Policy
from missionctl.runtime.tools import TurnDeps, platform_tools, read_only_tools
from missionctl.storage import AttachmentStore

ModelFactory = Callable[[AgentInfo, CallContext], Model]
OUTPUTS: dict[str, Any] = {PLAN: Plan, REVIEW: ReviewVerdict, WRITE: str, ANSWER: str}
MIN_REPORT_AS_DOCUMENT = 200
_messages_adapter: TypeAdapter[list[ModelMessage]] = ModelMessagesTypeAdapter
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def policy_of(job: JobContext) -> Policy:
    """The orchestration limits the job's settings ask for."""
    settings = job.settings
    return Policy(
        capacity=settings.agent_capacity,
        max_review_rounds=settings.review_max_rounds,
        auto_approve_agents=settings.auto_approve_agents,
    )


def _turn_loop() -> asyncio.AbstractEventLoop:
    """The process's event loop for turns, on its own thread, started on first use.

    One long-lived loop rather than one per turn: provider clients (`ModelCache`, per loop)
    keep their connections between turns and are closed on it by `Gateway.close`.
    """
    global _loop  # noqa: PLW0603 - one loop per process, made lazily
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="agent-turns", daemon=True)
            thread.start()
            _loop = loop
        return _loop


def submit(coroutine: Any) -> concurrent.futures.Future[Any]:
    """Start a coroutine on the turns' event loop; its future completes from any thread."""
    return asyncio.run_coroutine_threadsafe(coroutine, _turn_loop())


def run_async(coroutine: Any) -> Any:
    """Run a coroutine on the turns' event loop and wait for its result (from a worker thread).

    The coroutine's units of work keep the caller's write priority (the job's).
    """
    priority = write_priority.get()

    async def prioritised() -> Any:
        write_priority.set(priority)  # the task's own context, copied by the threads it starts
        return await coroutine

    return asyncio.run_coroutine_threadsafe(prioritised(), _turn_loop()).result()


# -- begin -----------------------------------------------------------------------------------


def _definition(agent: AgentInfo) -> dict[str, Any]:
    """The agent's definition as the turn pins it."""
    return {
        "agent_id": str(agent.agent_id),
        "version": getattr(agent, "version", 1),
        "name": agent.name,
        "role": agent.role,
        "instructions": agent.instructions,
        "model": agent.model,
        "capabilities": list(agent.capabilities),
    }


def _pinned(session: Session, agent: AgentInfo, state: dict[str, Any]) -> dict[str, Any]:
    """The definition a resumed turn started with (its version), else the current one."""
    pinned = state.get("definition")
    return dict(pinned) if isinstance(pinned, dict) else _definition(agent)


class _Busy(Exception):
    """Another turn of the agent started while this one began: undo this begin."""


def begin(
    session: Session,
    job: JobContext,
    agent_id: uuid.UUID,
    *,
    lock_first: bool = False,
    seen: dict[str, AgentInfo] | None = None,
) -> dict[str, Any] | Uncheckpointed[dict[str, Any]]:
    """The turn's first checkpoint: what it works on and everything it shows the model.

    The common turn has nothing to do: it ends at once, in the same short unit of work and with
    no checkpoint (re-running it is harmless). Otherwise the turn's state is marked running
    last: on PostgreSQL that takes a row lock held to commit, and a unit of work that wakes
    the agent meanwhile then waits only for the commit, not for the whole begin. Should
    another turn have started by then (`_Busy`), the begin is undone and run again with the
    state locked first (`lock_first`), which ends it as `busy`.
    """
    if not agenda.has_work(session, agent_id) and service.idle_turn(session, agent_id, job.job_id):
        return Uncheckpointed({"outcome": "idle", "notifications": 0})
    if lock_first and not service.start_turn(session, agent_id, job.job_id):
        return {"outcome": "busy"}
    agent = get_agent(session, agent_id)
    if seen is not None:
        seen["agent"] = agent  # the loop's model is made for it (not read again)
    notifications = agenda.hand_over_notifications(session, agent_id)
    work, state = agenda.choose_work(session, agent, notifications, policy_of(job))
    if work is None:
        if not lock_first and not service.start_turn(session, agent_id, job.job_id):
            raise _Busy
        service.end_turn(session, agent_id, job.job_id, "idle", more=False)
        return {"outcome": "idle", "notifications": len(notifications)}
    definition = _pinned(session, agent, state)
    material = agenda.build_material(session, definition, work, [n.content for n in notifications])
    context = build_context(material, job.settings.agent_context_tokens)
    if not lock_first and not service.start_turn(session, agent_id, job.job_id):
        raise _Busy
    return {
        "outcome": "work",
        "work": work.as_dict(),
        "definition": definition,
        "instructions": context.instructions,
        "prompt": context.prompt,
        "template_version": context.template_version,
        "resume": state,
    }


# -- the loop --------------------------------------------------------------------------------


class CheckpointedModel(WrapperModel):
    """Each response is recorded once in the job; a re-run turn replays it instead of asking."""

    def __init__(self, wrapped: Model, job: JobContext, guard: TurnGuard) -> None:
        super().__init__(wrapped)
        self.job = job
        self.guard = guard
        self.count = 0

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        """The recorded response for this step, or a new one (then recorded)."""
        self.guard.step()
        key = f"model:{self.count}"
        self.count += 1
        saved = self.job.finished_steps.get(key)
        if saved is None:
            response = await self._ask(key, messages, model_settings, model_request_parameters)
        else:
            restored = _messages_adapter.validate_python(saved)[0]
            assert isinstance(restored, ModelResponse)
            response = restored
        for part in response.parts:
            if isinstance(part, ToolCallPart):
                self.guard.tool_call(part.tool_name, part.args_as_dict())
        return response

    async def _ask(
        self,
        key: str,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        parameters: ModelRequestParameters,
    ) -> ModelResponse:
        """A new response, checkpointed: through the gateway, in the unit of work that meters
        it (one write fewer per request); from any other model (or a cached reply), in a unit
        of work of its own, off the loop (the loop carries every turn's model calls, and on
        SQLite a write may wait for the lock other turns hold)."""
        recorded = False

        def record(conn: Connection, reply: ModelResponse) -> None:
            nonlocal recorded
            dumped = _messages_adapter.dump_python([reply], mode="json")
            # Not held any more: the metering still commits; `job.call` below raises LeaseLost.
            recorded = self.job.checkpoint(conn, key, dumped)

        if isinstance(self.wrapped, RoutedModel):
            response = await self.wrapped.request_recorded(
                messages, model_settings, parameters, record
            )
        else:
            response = await self.wrapped.request(messages, model_settings, parameters)
        if not recorded:
            dumped = _messages_adapter.dump_python([response], mode="json")
            await asyncio.to_thread(self.job.call, key, lambda: dumped)
        return response


@dataclass
class TurnRunner:
    """Runs turns with a model from `model_factory` (the gateway's routed model by default)."""

    model_factory: ModelFactory

    def run(self, job: JobContext) -> dict[str, Any]:
        """The `agent.turn` job."""
        agent_id = uuid.UUID(str(job.payload["agent_id"]))
        seen: dict[str, AgentInfo] = {}
        try:
            begun = job.step("begin", lambda s: begin(s, job, agent_id, seen=seen))
        except _Busy:
            begun = job.step("begin", lambda s: begin(s, job, agent_id, lock_first=True, seen=seen))
        if begun["outcome"] != "work":
            return begun
        agent = seen.get("agent")
        if agent is None:  # the begin came back from its checkpoint
            with job.db.transaction(job.tenant_id, write=False) as session:
                agent = get_agent(session, agent_id)
        try:
            outcome = run_async(self._loop(job, begun, agent))
        except ModelUnavailable as exc:
            raise RetryLater(f"model unavailable: {exc.detail}", after_seconds=30) from exc
        return job.step("finish", lambda s: finish(s, job, begun, outcome))

    async def _loop(
        self, job: JobContext, begun: dict[str, Any], agent: AgentInfo
    ) -> dict[str, Any]:
        definition, work = begun["definition"], Work(**begun["work"])
        task_id = uuid.UUID(work.task_id) if work.task_id else None
        agent_id = uuid.UUID(definition["agent_id"])
        settings = job.settings
        info = agent.model_copy(update={"model": definition["model"]})  # the pinned model
        call = CallContext(job.tenant_id, agent_id=agent_id, task_id=task_id, run_id=job.job_id)
        guard = TurnGuard(max_steps=settings.agent_max_steps)
        model = CheckpointedModel(self.model_factory(info, call), job, guard)
        deps = TurnDeps(
            db=job.db,
            tenant_id=job.tenant_id,
            agent_id=agent_id,
            store=AttachmentStore(settings.data_dir / "attachments"),
            max_attachment_bytes=settings.max_attachment_bytes,
            task_id=task_id,
            role=Role.AGENT,
            fetch_allowed_hosts=tuple(settings.fetch_allowed_hosts),
            journal=job,
        )
        runner = _runner(work.mode)
        resume = begun.get("resume") or {}
        history = _messages_adapter.validate_python(resume["messages"]) if resume else None
        answers = (
            DeferredToolResults(calls=dict.fromkeys(resume["calls"], resume["answer"]))
            if resume
            else None
        )
        try:
            result = await runner.run(
                None if history else begun["prompt"],
                model=model,
                instructions=begun["instructions"],
                message_history=history,
                deferred_tool_results=answers,
                deps=deps,
                usage_limits=UsageLimits(request_limit=None),
            )
        except TurnStopped as exc:
            return {"kind": "stopped", "reason": exc.reason.value, "detail": exc.detail}
        except BudgetExhausted as exc:
            return {"kind": "budget", "detail": exc.detail}
        except (UnexpectedModelBehavior, UsageLimitExceeded) as exc:
            return {"kind": "stopped", "reason": "model_error", "detail": str(exc)[:500]}
        output = result.output
        if isinstance(output, DeferredToolRequests):
            questions = [
                {"tool_call_id": c.tool_call_id, "question": _question_of(c, output)}
                for c in output.calls
            ]
            return {
                "kind": "deferred",
                "questions": questions,
                "messages": _messages_adapter.dump_python(result.all_messages(), mode="json"),
            }
        dumped = output.model_dump(mode="json") if hasattr(output, "model_dump") else str(output)
        return {
            "kind": "output",
            "output": dumped,
            "wrote_document": _wrote_document(result.all_messages()),
        }


@functools.cache
def _runner(mode: str) -> Agent[TurnDeps, Any]:
    """The pydantic-ai agent for turns of one mode: its tools and output type, made once (its
    tool and output schemas cost a few ms to build); model and instructions are the turn's."""
    return Agent(
        None,
        deps_type=TurnDeps,
        tools=platform_tools() if mode == WRITE else read_only_tools(),
        output_type=[OUTPUTS[mode], DeferredToolRequests],
        retries=2,
    )


def _question_of(call: ToolCallPart, requests: DeferredToolRequests) -> str:
    meta = requests.metadata.get(call.tool_call_id) or {}
    return str(meta.get("question") or call.args_as_dict().get("question") or "")


def _wrote_document(messages: list[ModelMessage]) -> bool:
    return any(
        isinstance(part, ToolReturnPart) and part.tool_name == "write_document"
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
    )


# -- finish ----------------------------------------------------------------------------------

_MENTION = re.compile(r"(?<![\w@])@(?=[A-Za-z])")


def _finish_write(
    session: Session, agent_id: uuid.UUID, task_id: uuid.UUID, outcome: dict[str, Any]
) -> str:
    report = str(outcome["output"]).strip()
    task = board.get_task(session, task_id)
    if not outcome.get("wrote_document") and len(report) >= MIN_REPORT_AS_DOCUMENT:
        existing = list_documents(session, DocumentFilter(task_id=task_id, limit=1)).items
        if not existing:
            data = DocumentCreate(
                title=task.title, content=report, task_id=task_id, author_agent_id=agent_id
            )
            create_document(session, data, actor=Actor.agent(agent_id))
    if report:
        post_update(session, task_id, agent_id, report[:2000])
    if task.status is TaskStatus.IN_PROGRESS:
        change = TaskStatusChange(
            status=TaskStatus.REVIEW, reason="ready for review", by_agent_id=agent_id
        )
        board.change_status(session, task_id, change, actor=Actor.agent(agent_id))
    return "submitted"


def _apply_output(
    session: Session, job: JobContext, agent: AgentInfo, work: Work, outcome: dict[str, Any]
) -> str:
    task_id = uuid.UUID(work.task_id) if work.task_id else None
    assert task_id is not None
    if work.mode == PLAN:
        plan = Plan.model_validate(outcome["output"])
        created = apply_plan(
            session, board.get_task(session, task_id), plan, by=agent, policy=policy_of(job)
        )
        return f"planned {len(created)}"
    if work.mode == REVIEW:
        verdict = ReviewVerdict.model_validate(outcome["output"])
        assert work.review_id is not None
        return apply_review(session, uuid.UUID(work.review_id), verdict, policy=policy_of(job))
    if work.mode == ANSWER:
        reply = _MENTION.sub("", str(outcome["output"]).strip())  # replies start no mention loops
        if reply:
            post_update(session, task_id, agent.agent_id, reply)
        return "answered"
    return _finish_write(session, agent.agent_id, task_id, outcome)


def _park(
    session: Session, agent: AgentInfo, begun: dict[str, Any], outcome: dict[str, Any]
) -> str:
    work = Work(**begun["work"])
    questions = outcome["questions"]
    text = "\n\n".join(q["question"] for q in questions if q["question"]) or "(no question)"
    state = {
        "mode": work.mode,
        "review_id": work.review_id,
        "message_id": work.message_id,
        "definition": begun["definition"],
        "messages": outcome["messages"],
        "calls": [q["tool_call_id"] for q in questions],
    }
    ask_question(
        session,
        QuestionCreate(
            agent_id=agent.agent_id,
            task_id=uuid.UUID(work.task_id) if work.task_id else None,
            question=text[:4000],
        ),
        resume_state=state,
    )
    return "parked"


# The turn's requests and their cost: its job id names them (no tenant filter needed). Built
# once and run as plain Core, as every finish asks it.
_TURN_COST = select(func.count(), func.sum(UsageRow.cost_nanos)).where(
    UsageRow.run_id == bindparam("job_id", type_=UsageRow.run_id.type)
)


def _turn_cost(session: Session, job_id: uuid.UUID) -> tuple[int, int | None]:
    requests, nanos = session.connection().execute(_TURN_COST, {"job_id": job_id}).one()
    return int(requests), (int(nanos) if nanos is not None else None)


def finish(
    session: Session, job: JobContext, begun: dict[str, Any], outcome: dict[str, Any]
) -> dict[str, Any]:
    """The turn's last checkpoint: apply its result and hand the slot on."""
    work = Work(**begun["work"])
    agent_id = uuid.UUID(begun["definition"]["agent_id"])
    agent = get_agent(session, agent_id)
    task_id = uuid.UUID(work.task_id) if work.task_id else None
    kind = outcome["kind"]
    if kind == "output":
        try:
            with session.begin_nested():  # a refusal undoes only this turn's own changes
                result = _apply_output(session, job, agent, work, outcome)
        except MissionControlError as exc:
            result = f"not applied: {exc.code}"
    elif kind == "deferred":
        result = _park(session, agent, begun, outcome)
    elif kind == "stopped":
        escalate_stopped_turn(session, agent, task_id, outcome["reason"], outcome["detail"])
        result = "stopped"
    else:
        result = "budget"
    requests, nanos = _turn_cost(session, job.job_id)
    record_event(
        session,
        "agent.turn_finished",
        actor=Actor.agent(agent_id),
        subject_kind="agent",
        subject_id=agent_id,
        task_id=task_id,
        agent_id=agent_id,
        summary=f"{agent.name} finished a {work.mode} turn: {result}",
        payload={
            "mode": work.mode,
            "outcome": result,
            "job_id": str(job.job_id),
            "version": begun["definition"].get("version"),
            "model_requests": requests,
            "cost_nanos": nanos,
        },
    )
    # Another turn at once only if there is more to do (a person's answer, a new task...).
    did_work = kind == "output" and agenda.has_work(session, agent_id)
    service.end_turn(
        session, agent_id, job.job_id, kind if kind != "output" else "done", more=did_work
    )
    return {"outcome": result, "mode": work.mode, "task_id": work.task_id, "requests": requests}
