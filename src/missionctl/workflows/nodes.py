"""What work nodes do: a model call, an agent's answer, a tool, an HTTP request.

Each runs on the workflow loop with the node's rendered inputs and returns a `NodeResult`, or
raises `NodeFailure` with the class of error its retry policy matches on (`classify` turns any
other exception into one). Tools and HTTP targets have per-process circuit breakers (the model
layer's `Breaker`): a target that keeps failing is given a rest instead of more requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    SystemPromptPart,
    TextPart,
    UserPromptPart,
)
from pydantic_ai.settings import ModelSettings

from missionctl.errors import BudgetExhausted, InvalidInput, ModelUnavailable, NotFound
from missionctl.models.breaker import Breaker
from missionctl.models.gateway import Gateway
from missionctl.models.metering import CallContext
from missionctl.runtime.tools import host_allowed
from missionctl.workflows.definition import BreakerSpec, RetrySpec
from missionctl.workflows.expressions import ExpressionError
from missionctl.workflows.tools import ToolCall, ToolRegistry

HTTP_MAX_CHARS = 100_000
HTTP_TIMEOUT_SECONDS = 30.0
RETRYABLE = frozenset({"timeout", "network", "http_5xx", "model", "tool", "circuit_open"})


class NodeFailure(Exception):
    """A node attempt that failed, with the class of its error."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message


@dataclass(frozen=True, slots=True)
class NodeResult:
    """What a node produced, and what it cost."""

    output: Any
    cost_nanos: int = 0
    logs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentBrief:
    """What an `agent` node needs of the agent."""

    agent_id: uuid.UUID
    name: str
    model: str
    instructions: str


@dataclass(frozen=True, slots=True)
class NodeCall:
    """One attempt of a work node: the node, its rendered inputs, the run it belongs to."""

    tenant_id: uuid.UUID
    run_id: uuid.UUID
    workflow: str
    step_key: str
    node_type: str
    inputs: dict[str, Any]
    timeout_seconds: float | None
    breaker: BreakerSpec | None = None
    agent: AgentBrief | None = None


def classify(exc: BaseException) -> NodeFailure:
    """Any exception as a `NodeFailure` (the error class decides whether it is retried)."""
    if isinstance(exc, NodeFailure):
        return exc
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return NodeFailure("timeout", "timed out")
    if isinstance(exc, httpx.HTTPError):
        return NodeFailure("network", f"request failed: {exc!r}")
    if isinstance(exc, BudgetExhausted):
        return NodeFailure("budget", exc.detail)
    if isinstance(exc, ModelUnavailable):
        return NodeFailure("model", exc.detail)
    if isinstance(exc, InvalidInput | NotFound):
        return NodeFailure("invalid", exc.detail)
    if isinstance(exc, ExpressionError):
        return NodeFailure("expression", str(exc))
    return NodeFailure("tool", f"{type(exc).__name__}: {exc}")


def should_retry(retry: RetrySpec | None, error_class: str, attempts: int) -> bool:
    """Whether a node that failed with `error_class` after `attempts` attempts runs again."""
    if retry is None or attempts >= retry.attempts:
        return False
    for wanted in retry.errors:
        if wanted == "error" and error_class in RETRYABLE:
            return True
        if wanted == "http" and error_class in ("http_4xx", "http_5xx"):
            return True
        if wanted == error_class:
            return True
    return False


@dataclass
class Breakers:
    """Circuit breakers of tools and HTTP targets, per tenant and target, in this process."""

    clock: Callable[[], float] = time.monotonic
    _breakers: dict[tuple[uuid.UUID, str], Breaker] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _get(self, tenant_id: uuid.UUID, target: str, spec: BreakerSpec) -> Breaker:
        with self._lock:
            breaker = self._breakers.get((tenant_id, target))
            if breaker is None:
                breaker = Breaker(spec.failures, spec.cooldown_seconds)
                self._breakers[(tenant_id, target)] = breaker
            return breaker

    def admit(self, tenant_id: uuid.UUID, target: str, spec: BreakerSpec) -> None:
        """Raise `NodeFailure("circuit_open")` while the target is resting."""
        breaker = self._get(tenant_id, target, spec)
        with self._lock:
            allowed = breaker.allow(self.clock())
        if not allowed:
            raise NodeFailure("circuit_open", f"circuit open for {target}: it failed repeatedly")

    def record(self, tenant_id: uuid.UUID, target: str, spec: BreakerSpec, *, ok: bool) -> None:
        """Count a success or a failure of the target."""
        breaker = self._get(tenant_id, target, spec)
        with self._lock:
            if ok:
                breaker.succeeded(0.0)
            else:
                breaker.failed(self.clock())


BREAKERS = Breakers()


@dataclass
class NodeWorker:
    """Runs work nodes on the workflow loop."""

    gateway: Callable[[], Gateway]
    tools: ToolRegistry
    allowed_hosts: list[str]
    breakers: Breakers = field(default_factory=lambda: BREAKERS)
    http: Callable[[], httpx.AsyncClient] = field(
        default=lambda: httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)
    )

    async def run(self, call: NodeCall) -> NodeResult:
        """One attempt, bounded by the node's timeout."""
        work = {
            "llm": self._llm,
            "agent": self._agent,
            "tool": self._tool,
            "http": self._http,
        }[call.node_type]
        try:
            if call.timeout_seconds:
                return await asyncio.wait_for(work(call), call.timeout_seconds)
            return await work(call)
        except Exception as exc:  # every failure is recorded on the step, with its class
            raise classify(exc) from exc

    async def _complete(
        self, call: NodeCall, alias: str, system: str | None, prompt: str, context: CallContext
    ) -> tuple[str, dict[str, Any], int]:
        parts: list[Any] = []
        if system:
            parts.append(SystemPromptPart(content=system))
        parts.append(UserPromptPart(content=prompt))
        messages: list[ModelMessage] = [ModelRequest(parts=parts)]
        settings: ModelSettings | None = None
        if call.inputs.get("max_tokens"):
            settings = ModelSettings(max_tokens=int(call.inputs["max_tokens"]))
        completion = await self.gateway().request(context, alias, messages, settings)
        text = "".join(p.content for p in completion.response.parts if isinstance(p, TextPart))
        usage = {
            "model": completion.deployment.name,
            "input_tokens": completion.input_tokens,
            "output_tokens": completion.output_tokens,
            "cost_nanos": completion.cost_nanos or 0,
        }
        return text, usage, completion.cost_nanos or 0

    async def _llm(self, call: NodeCall) -> NodeResult:
        context = CallContext(tenant_id=call.tenant_id, run_id=call.run_id, workflow=call.workflow)
        text, usage, cost = await self._complete(
            call,
            str(call.inputs.get("model") or "default"),
            call.inputs.get("system"),
            str(call.inputs.get("prompt", "")),
            context,
        )
        return NodeResult(output={"text": text, **usage}, cost_nanos=cost)

    async def _agent(self, call: NodeCall) -> NodeResult:
        agent = call.agent
        if agent is None:
            raise NodeFailure("invalid", "the agent node has no agent")
        context = CallContext(
            tenant_id=call.tenant_id,
            agent_id=agent.agent_id,
            run_id=call.run_id,
            workflow=call.workflow,
        )
        system = f"You are {agent.name}.\n\n{agent.instructions}".strip()
        text, usage, cost = await self._complete(
            call, agent.model, system, str(call.inputs.get("prompt", "")), context
        )
        return NodeResult(output={"text": text, "agent": agent.name, **usage}, cost_nanos=cost)

    async def _tool(self, call: NodeCall) -> NodeResult:
        name = str(call.inputs.get("tool"))
        tool = self.tools.get(name)
        spec = call.breaker or BreakerSpec()
        self.breakers.admit(call.tenant_id, f"tool:{name}", spec)
        tool_call = ToolCall(call.tenant_id, call.run_id, call.step_key, call.workflow)
        args = call.inputs.get("args") or {}
        try:
            if tool.is_async:
                output = await tool.fn(args, tool_call)
            else:
                output = await asyncio.to_thread(tool.fn, args, tool_call)
        except BaseException:
            self.breakers.record(call.tenant_id, f"tool:{name}", spec, ok=False)
            raise
        self.breakers.record(call.tenant_id, f"tool:{name}", spec, ok=True)
        return NodeResult(output=output)

    async def _http(self, call: NodeCall) -> NodeResult:
        url = str(call.inputs.get("url", ""))
        parsed = urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise NodeFailure("invalid", f"not an http(s) URL: {url!r}")
        if not host_allowed(parsed.hostname, self.allowed_hosts):
            raise NodeFailure(
                "invalid",
                f"{parsed.hostname} is not an allowed host (MISSIONCTL_WORKFLOW_ALLOWED_HOSTS)",
            )
        target = f"http:{parsed.hostname}:{parsed.port or ''}"
        spec = call.breaker or BreakerSpec()
        self.breakers.admit(call.tenant_id, target, spec)
        try:
            result = await self._send(call, url)
        except NodeFailure as exc:
            self.breakers.record(call.tenant_id, target, spec, ok=exc.error_class == "http_4xx")
            raise
        except BaseException:
            self.breakers.record(call.tenant_id, target, spec, ok=False)
            raise
        self.breakers.record(call.tenant_id, target, spec, ok=True)
        return result

    async def _send(self, call: NodeCall, url: str) -> NodeResult:
        headers = {str(k): str(v) for k, v in (call.inputs.get("headers") or {}).items()}
        headers.setdefault("Idempotency-Key", f"{call.run_id}:{call.step_key}")
        body = call.inputs.get("json")
        async with self.http() as client:
            reply = await client.request(
                str(call.inputs.get("method") or "GET"),
                url,
                headers=headers,
                json=body if body is not None else None,
                content=call.inputs.get("body") if body is None else None,
            )
        expect = call.inputs.get("expect")
        ok = reply.status_code in expect if expect else 200 <= reply.status_code < 300
        content: Any = reply.text[:HTTP_MAX_CHARS]
        if "json" in reply.headers.get("content-type", ""):
            with contextlib.suppress(ValueError):
                content = reply.json()
        if not ok:
            status = reply.status_code
            error_class = (
                "http_4xx" if 400 <= status < 500 and status not in (408, 429) else "http_5xx"
            )
            raise NodeFailure(error_class, f"HTTP {status} from {url}: {str(content)[:300]}")
        return NodeResult(
            output={
                "status": reply.status_code,
                "headers": {"content-type": reply.headers.get("content-type", "")},
                "body": content,
            }
        )
