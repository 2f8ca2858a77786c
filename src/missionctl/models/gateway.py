"""The gateway: every model call of agents and workflows goes through here.

A call names an alias. The gateway resolves it to deployments (catalog + routing), answers from
the response cache when the policy asks for one, holds the call's estimate against every budget
that applies (refusing with `BudgetExhausted` when one has no room), then tries the deployments
in order — skipping open breakers, deployments cooling down after a 429 and those over their
shared rate limit — falling back on error, timeout or 429, with backoff between rounds. Every
request made is metered; the holds are replaced by the actual charge in one transaction.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelHTTPError,
    ModelTimeoutError,
    UnexpectedModelBehavior,
)
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ModelResponseStreamEvent,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.settings import ModelSettings
from sqlalchemy import Connection

from missionctl.common import Actor
from missionctl.db import Database
from missionctl.errors import BudgetExhausted, ModelUnavailable
from missionctl.events.service import record_event
from missionctl.models import ledger, metering, service
from missionctl.models.accounting import cost_nanos, period_key
from missionctl.models.breaker import Health
from missionctl.models.catalog import Catalog, DeploymentSpec, PolicySpec, offline_spec
from missionctl.models.ledger import BudgetKey, Hold
from missionctl.models.metering import CallContext, Request
from missionctl.models.providers import ModelCache
from missionctl.models.routing import rank
from missionctl.models.schemas import Attempt, Capability
from missionctl.models.tokens import estimate_tokens
from missionctl.sealing import Sealer
from missionctl.settings import Settings

DEFAULT_RETRY_AFTER = 1.0
Record = Callable[[Connection, ModelResponse], None]  # a caller's record of a reply (see request)
# What a provider request can fail with: fall back to the next deployment on any of these.
MODEL_FAILURES = (ModelAPIError, UnexpectedModelBehavior, TimeoutError, OSError)


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """The gateway's knobs (from settings)."""

    catalog_ttl_seconds: float = 2.0
    estimate_output_tokens: int = 512
    breaker_failures: int = 5
    breaker_cooldown_seconds: float = 30.0
    retry_base_seconds: float = 0.25
    max_wait_seconds: float = 20.0

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayOptions:
        """The options a settings tree asks for."""
        return cls(
            catalog_ttl_seconds=settings.model_catalog_ttl_seconds,
            estimate_output_tokens=settings.model_estimate_output_tokens,
            breaker_failures=settings.model_breaker_failures,
            breaker_cooldown_seconds=settings.model_breaker_cooldown_seconds,
            retry_base_seconds=settings.model_retry_base_seconds,
            max_wait_seconds=settings.model_max_wait_seconds,
        )


@dataclass(frozen=True, slots=True)
class Completion:
    """A model reply with where it came from and what it cost."""

    alias: str
    deployment: DeploymentSpec
    response: ModelResponse
    input_tokens: int
    output_tokens: int
    cost_nanos: int | None
    latency_ms: float
    is_cache_hit: bool
    attempts: tuple[Attempt, ...]


@dataclass
class _Call:
    """One call on its way: its plan, holds and the requests made so far."""

    context: CallContext
    alias: str
    policy: PolicySpec
    specs: list[DeploymentSpec]
    estimated_input: int
    estimated_output: int
    budgets: list[BudgetKey]
    holds: tuple[Hold, ...] = ()
    requests: list[Request] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def estimated_tokens(self) -> int:
        """Tokens in and out the call is assumed to use until it has answered."""
        return self.estimated_input + self.estimated_output


class Gateway:
    """Routes, budgets, meters and caches model calls for every tenant of a process.

    A process may hold more than one (the API's, on its event loop, and the agent runtime's,
    on the turns' loop): a change made through the API is announced to all of them
    (`invalidate_everywhere`); other processes see it within `catalog_ttl_seconds`.
    """

    _live: ClassVar[weakref.WeakSet[Gateway]] = weakref.WeakSet()

    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        options: GatewayOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.sealer = sealer
        self.options = options or GatewayOptions()
        self.health = Health(self.options.breaker_failures, self.options.breaker_cooldown_seconds)
        self.models = ModelCache()
        self._clock = clock
        self._sleep = sleep
        self._catalogs: dict[uuid.UUID, tuple[float, Catalog]] = {}
        self._lock = threading.Lock()
        Gateway._live.add(self)

    @classmethod
    def invalidate_everywhere(cls, db: Database, tenant_id: uuid.UUID) -> None:
        """Forget the tenant's catalog in every gateway of this process on the same database."""
        url = db.engine.url
        for gateway in list(cls._live):
            if gateway.db.engine.url == url:
                gateway.invalidate(tenant_id)

    def close(self) -> None:
        """Close every provider client this gateway opened (from any thread)."""
        self.models.close()

    async def aclose(self) -> None:
        """Close the provider clients of the running event loop."""
        await self.models.aclose()

    async def warm_up(self) -> None:
        """Pay pydantic-ai's lazy imports (~0.2 s) at start-up, not in the first call."""
        model = self.models.get(offline_spec())
        messages: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart(content="ready?")])]
        await model.request(messages, None, ModelRequestParameters())

    # -- the catalog ---------------------------------------------------------------------

    def invalidate(self, tenant_id: uuid.UUID | None = None) -> None:
        """Forget cached catalogs (one tenant's, or all) so the next call reads them anew."""
        with self._lock:
            if tenant_id is None:
                self._catalogs.clear()
            else:
                self._catalogs.pop(tenant_id, None)

    def catalog(self, tenant_id: uuid.UUID) -> Catalog:
        """The tenant's catalog, read at most every `catalog_ttl_seconds`."""
        now = self._clock()
        cached = self._catalogs.get(tenant_id)
        if cached is not None and now - cached[0] < self.options.catalog_ttl_seconds:
            return cached[1]
        with self.db.transaction(tenant_id, write=False) as session:
            catalog = service.load_catalog(session, sealer=self.sealer)
        with self._lock:
            self._catalogs[tenant_id] = (now, catalog)
        return catalog

    def plan(
        self,
        tenant_id: uuid.UUID,
        alias: str,
        parameters: ModelRequestParameters | None = None,
        context_tokens: int = 0,
    ) -> tuple[PolicySpec, list[DeploymentSpec]]:
        """The policy an alias means and the deployments a call would try, in order."""
        policy, specs = self.catalog(tenant_id).resolve(alias)
        required = set(policy.required_capabilities) | _needs(parameters)
        by_name = {spec.name: spec for spec in specs}
        candidates = [spec.candidate(self.health.of(spec.cache_key).latency_ms) for spec in specs]
        ranked = [
            by_name[c.name] for c in rank(candidates, policy.strategy, required, context_tokens)
        ]
        if not ranked:
            raise ModelUnavailable(
                f"no deployment of {alias!r} can take this call "
                f"(needs {', '.join(sorted(required)) or 'nothing special'}, "
                f"{context_tokens} tokens of context; disabled ones are skipped)"
            )
        return policy, ranked

    # -- calls ---------------------------------------------------------------------------

    async def request(
        self,
        context: CallContext,
        alias: str,
        messages: list[ModelMessage],
        settings: ModelSettings | None = None,
        parameters: ModelRequestParameters | None = None,
        *,
        cache_ttl_seconds: int | None = None,
        record: Record | None = None,
    ) -> Completion:
        """Send a request through the alias's deployments; the first good reply wins.

        `record(conn, response)` runs in the unit of work that meters a reply from a deployment
        (not from the cache), so the caller's own record of it (a turn's checkpoint) commits
        with its cost.
        """
        parameters = parameters or ModelRequestParameters()
        call = self._start(context, alias, messages, settings, parameters)
        ttl = cache_ttl_seconds or call.policy.cache_ttl_seconds
        key = ""
        if ttl:
            key = metering.cache_key(context.tenant_id, alias, messages, settings, parameters)
            cached = self._from_cache(call, key)
            if cached is not None:
                return cached
        # The budget hold and the metering are units of work on the database: they run off
        # the event loop, which other calls (and, in the API, other requests) share.
        if call.budgets:
            await asyncio.to_thread(self._hold, call)
        try:
            spec, response = await self._attempt(call, messages, settings, parameters)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(self._settle, call, None, None, None))
            raise
        await asyncio.to_thread(
            self._settle, call, (key, ttl) if ttl else None, spec, response, record
        )
        return self._completion(call, spec, response)

    @asynccontextmanager
    async def stream(
        self,
        context: CallContext,
        alias: str,
        messages: list[ModelMessage],
        settings: ModelSettings | None = None,
        parameters: ModelRequestParameters | None = None,
    ) -> AsyncIterator[RoutedStream]:
        """A streamed reply; falls back to the next deployment only before the first event."""
        parameters = parameters or ModelRequestParameters()
        call = self._start(context, alias, messages, settings, parameters)
        self._hold(call)
        routed: RoutedStream | None = None
        try:
            async with AsyncExitStack() as stack:
                routed = await self._open_stream(call, stack, messages, settings, parameters)
                yield routed
        finally:
            if routed is not None:
                self._record_stream(call, routed)
            self._settle(call, None, None, None)

    # -- the steps of a call -------------------------------------------------------------

    def _start(
        self,
        context: CallContext,
        alias: str,
        messages: list[ModelMessage],
        settings: ModelSettings | None,
        parameters: ModelRequestParameters,
    ) -> _Call:
        prompt_tokens = sum(
            estimate_tokens(str(getattr(part, "content", "") or getattr(part, "args", "") or ""))
            for message in messages
            for part in message.parts
        )
        output_tokens = (settings or {}).get("max_tokens") or self.options.estimate_output_tokens
        policy, specs = self.plan(context.tenant_id, alias, parameters, prompt_tokens)
        catalog = self.catalog(context.tenant_id)
        now = datetime.now(UTC)
        budgets = [
            BudgetKey(budget_id, period_key(period, now))
            for budget_id, period in catalog.budgets_for(
                context.agent_id, context.workflow, context.run_id
            )
        ]
        return _Call(context, alias, policy, specs, prompt_tokens, output_tokens, budgets)

    def _hold(self, call: _Call) -> None:
        if not call.budgets:
            return
        nanos = max(
            (
                cost_nanos(
                    call.estimated_input, call.estimated_output, s.input_per_mtok, s.output_per_mtok
                )
                for s in call.specs
                if s.input_per_mtok is not None and s.output_per_mtok is not None
            ),
            default=0,
        )
        now = datetime.now(UTC)
        try:
            with self.db.connect() as conn:
                call.holds = ledger.hold(
                    conn, call.context.tenant_id, call.budgets, nanos, call.estimated_tokens, now
                )
        except ledger.NoRoom as refused:
            self._refuse(call, refused.key, now)

    def _refuse(self, call: _Call, key: BudgetKey, now: datetime) -> None:
        scope, scope_id = next(
            ((scope, scope_id) for budget_id, scope, scope_id, _period in
             self.catalog(call.context.tenant_id).budgets if budget_id == key.budget_id),
            ("tenant", None),
        )  # fmt: skip
        with self.db.transaction(call.context.tenant_id) as session:
            if ledger.mark_exhausted(session.connection(), call.context.tenant_id, key, now):
                record_event(
                    session,
                    "budget.exhausted",
                    actor=Actor.system(),
                    subject_kind="budget",
                    subject_id=key.budget_id,
                    summary=f"The {scope} budget is exhausted for {key.period_key}; "
                    "model calls are refused",
                    agent_id=call.context.agent_id,
                    task_id=call.context.task_id,
                    payload={
                        "budget_id": str(key.budget_id),
                        "scope": scope,
                        "scope_id": scope_id,
                        "period_key": key.period_key,
                        "alias": call.alias,
                        "agent_id": str(call.context.agent_id) if call.context.agent_id else None,
                    },
                )
        raise BudgetExhausted(
            f"budget {key.budget_id} has no room for this call in {key.period_key}; "
            "raise it to continue",
            budget_id=str(key.budget_id),
            scope=scope,
            scope_id=scope_id,
            period_key=key.period_key,
        )

    async def _attempt(
        self,
        call: _Call,
        messages: list[ModelMessage],
        settings: ModelSettings | None,
        parameters: ModelRequestParameters,
    ) -> tuple[DeploymentSpec, ModelResponse]:
        for round_number in range(call.policy.retries + 1):
            for spec in call.specs:
                is_admitted, window = self._admit(call, spec)
                if not is_admitted:
                    continue
                started = self._clock()
                try:
                    # asyncio.timeout, not wait_for: no extra task per request (~40 µs).
                    async with asyncio.timeout(spec.timeout_seconds):
                        model = self.models.get(spec)
                        response = await model.request(messages, settings, parameters)
                except MODEL_FAILURES as exc:
                    self._failed(call, spec, exc, started, window)
                    continue
                self._succeeded(call, spec, response, started, window, is_stream=False)
                return spec, response
            await self._back_off(call, round_number)
        raise self._unavailable(call)

    async def _open_stream(
        self,
        call: _Call,
        stack: AsyncExitStack,
        messages: list[ModelMessage],
        settings: ModelSettings | None,
        parameters: ModelRequestParameters,
    ) -> RoutedStream:
        for round_number in range(call.policy.retries + 1):
            for spec in call.specs:
                is_admitted, window = self._admit(call, spec)
                if not is_admitted:
                    continue
                started = self._clock()
                attempt = AsyncExitStack()
                try:
                    opened = self.models.get(spec).request_stream(messages, settings, parameters)
                    inner = await asyncio.wait_for(
                        attempt.enter_async_context(opened), spec.timeout_seconds
                    )
                    events = inner.__aiter__()
                    first = await asyncio.wait_for(anext(events), spec.timeout_seconds)
                except (*MODEL_FAILURES, StopAsyncIteration) as exc:
                    await attempt.aclose()
                    self._failed(call, spec, exc, started, window, is_stream=True)
                    continue
                stack.push_async_exit(attempt)
                return RoutedStream(spec, inner, first, events, started, window)
            await self._back_off(call, round_number)
        raise self._unavailable(call)

    def _admit(self, call: _Call, spec: DeploymentSpec) -> tuple[bool, int | None]:
        """Whether to try `spec` now, and the rate window it was counted in (if limited)."""
        breaker = self.health.of(spec.cache_key)
        now = self._clock()
        if not breaker.allow(now):
            outcome = "cooling_down" if now < breaker.blocked_until else "circuit_open"
            call.attempts.append(Attempt(deployment=spec.name, outcome=outcome))
            return False, None
        if spec.deployment_id is None or (
            spec.requests_per_minute is None and spec.tokens_per_minute is None
        ):
            return True, None
        wall = time.time()
        window = int(wall // 60)
        with self.db.connect() as conn:
            is_taken = ledger.take_rate(
                conn,
                call.context.tenant_id,
                spec.deployment_id,
                window,
                call.estimated_tokens,
                spec.requests_per_minute,
                spec.tokens_per_minute,
            )
        if not is_taken:
            breaker.rate_limited(now, (window + 1) * 60 - wall)
            call.attempts.append(Attempt(deployment=spec.name, outcome="rate_limited_locally"))
            return False, None
        return True, window

    def _failed(
        self,
        call: _Call,
        spec: DeploymentSpec,
        exc: BaseException,
        started: float,
        window: int | None,
        *,
        is_stream: bool = False,
    ) -> None:
        now = self._clock()
        breaker = self.health.of(spec.cache_key)
        status = exc.status_code if isinstance(exc, ModelHTTPError) else None
        if status == 429:
            retry_after = getattr(exc, "retry_after", None) or DEFAULT_RETRY_AFTER
            breaker.rate_limited(now, retry_after)
            outcome = "rate_limited"
        else:
            breaker.failed(now)
            is_timeout = isinstance(exc, TimeoutError | ModelTimeoutError)
            outcome = "timeout" if is_timeout else "error"
        detail = f"{type(exc).__name__}: {exc}"[:500] if str(exc) else type(exc).__name__
        latency_ms = (now - started) * 1000
        call.attempts.append(
            Attempt(deployment=spec.name, outcome=outcome, error=detail, latency_ms=latency_ms)
        )
        call.requests.append(
            Request(
                spec,
                outcome,
                latency_ms,
                cost_nanos=0 if spec.is_priced else None,
                is_stream=is_stream,
                error=detail,
                rate_window=window,
                estimated_tokens=call.estimated_tokens,
            )
        )

    def _succeeded(
        self,
        call: _Call,
        spec: DeploymentSpec,
        response: ModelResponse,
        started: float,
        window: int | None,
        *,
        is_stream: bool,
    ) -> None:
        latency_ms = (self._clock() - started) * 1000
        self.health.of(spec.cache_key).succeeded(latency_ms)
        usage = response.usage
        cost = spec.cost_nanos(usage.input_tokens, usage.output_tokens)
        call.attempts.append(Attempt(deployment=spec.name, outcome="ok", latency_ms=latency_ms))
        call.requests.append(
            Request(
                spec,
                "ok",
                latency_ms,
                usage.input_tokens,
                usage.output_tokens,
                cost,
                is_stream=is_stream,
                rate_window=window,
                estimated_tokens=call.estimated_tokens,
            )
        )

    async def _back_off(self, call: _Call, round_number: int) -> None:
        if round_number >= call.policy.retries:
            return
        now = self._clock()
        delay = self.options.retry_base_seconds * (2**round_number) * random.uniform(0.5, 1.5)  # noqa: S311
        ready = min(self.health.of(s.cache_key).available_at(now) for s in call.specs) - now
        if ready > self.options.max_wait_seconds:
            return
        await self._sleep(max(delay, ready))

    def _unavailable(self, call: _Call) -> ModelUnavailable:
        now = self._clock()
        ready = min(self.health.of(s.cache_key).available_at(now) for s in call.specs) - now
        tried = "; ".join(
            f"{a.deployment}: {a.outcome}" + (f" ({a.error})" if a.error else "")
            for a in call.attempts
        )
        return ModelUnavailable(
            f"no deployment of {call.alias!r} answered: {tried}",
            retry_after=max(1, round(ready)) if ready > 0 else None,
            attempts=[a.model_dump() for a in call.attempts],
        )

    def _record_stream(self, call: _Call, routed: RoutedStream) -> None:
        response = routed.get()
        self._succeeded(
            call, routed.deployment, response, routed.started, routed.window, is_stream=True
        )

    def _from_cache(self, call: _Call, key: str) -> Completion | None:
        now = datetime.now(UTC)
        with self.db.connect(write=False) as conn:
            hit = metering.cached_response(conn, key, now)
        if hit is None:
            return None
        name, response = hit
        spec = next((s for s in call.specs if s.name == name), call.specs[0])
        usage = response.usage
        call.attempts.append(Attempt(deployment=spec.name, outcome="cache_hit"))
        call.requests.append(
            Request(spec, "cache_hit", 0.0, usage.input_tokens, usage.output_tokens, 0, True)
        )
        with self.db.connect() as conn:
            metering.meter(conn, call.context, call.alias, call.requests, now)
        return self._completion(call, spec, response)

    def _settle(
        self,
        call: _Call,
        cache: tuple[str, int] | None,
        spec: DeploymentSpec | None,
        response: ModelResponse | None,
        record: Record | None = None,
    ) -> None:
        if not call.requests and not call.holds:
            return
        now = datetime.now(UTC)
        with self.db.connect() as conn:
            metering.meter(conn, call.context, call.alias, call.requests, now)
            if cache is not None and spec is not None and response is not None:
                metering.store_response(
                    conn, call.context.tenant_id, cache[0], spec.name, response, now, cache[1]
                )
            if record is not None and response is not None:
                record(conn, response)
            # Last, right before the commit: the charge locks the budgets' rows (PostgreSQL).
            metering.charge(conn, call.context, call.budgets, call.holds, call.requests)

    def _completion(self, call: _Call, spec: DeploymentSpec, response: ModelResponse) -> Completion:
        final = call.requests[-1]
        return Completion(
            alias=call.alias,
            deployment=spec,
            response=response,
            input_tokens=final.input_tokens,
            output_tokens=final.output_tokens,
            cost_nanos=final.cost_nanos,
            latency_ms=final.latency_ms,
            is_cache_hit=final.is_cache_hit,
            attempts=tuple(call.attempts),
        )


class RoutedStream:
    """A stream from the deployment that answered first; iterate it for events."""

    def __init__(
        self,
        deployment: DeploymentSpec,
        inner: StreamedResponse,
        first: ModelResponseStreamEvent,
        events: AsyncIterator[ModelResponseStreamEvent],
        started: float,
        window: int | None,
    ) -> None:
        self.deployment = deployment
        self.inner = inner
        self.started = started
        self.window = window
        self._first: ModelResponseStreamEvent | None = first
        self._events = events
        # pydantic-ai consumers iterate the StreamedResponse itself: hand them the peeked event
        # first, then the rest (its iterator is created once and cached in `_event_iterator`).
        inner._event_iterator = self._replay()

    async def _replay(self) -> AsyncIterator[ModelResponseStreamEvent]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        async for event in self._events:
            yield event

    def __aiter__(self) -> AsyncIterator[ModelResponseStreamEvent]:
        return self.inner.__aiter__()

    def get(self) -> ModelResponse:
        """The response so far (complete once iteration ended)."""
        return self.inner.get()


def _needs(parameters: ModelRequestParameters | None) -> set[str]:
    if parameters is None:
        return set()
    needed: set[str] = set()
    if parameters.function_tools or parameters.output_tools:
        needed.add(Capability.TOOLS.value)
    if parameters.output_mode in ("native", "prompted") or parameters.output_tools:
        needed.add(Capability.JSON_OUTPUT.value)
    return needed
