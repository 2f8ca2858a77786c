"""Routing through real protocols: fallback, 429 and Retry-After, the breaker, rate limits, streams.

The gateway is driven over HTTP (the playground) where defaults suffice, and directly where a
test needs its own knobs (breaker thresholds, a clock it controls).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, UserPromptPart
from sqlalchemy import select

from missionctl.db import DEFAULT_TENANT_ID
from missionctl.errors import ModelUnavailable
from missionctl.models.gateway import Completion, Gateway, GatewayOptions
from missionctl.models.metering import CallContext
from missionctl.models.models import UsageRow
from missionctl.models.routed import RoutedModel
from missionctl.sealing import Sealer
from tests.conftest import Backend
from tests.models.conftest import DeploymentMaker, chat
from tests.models.fake_providers import Failure, FakeProvider, Reply, ToolCall, dead_url

CONTEXT = CallContext(DEFAULT_TENANT_ID)


def hello() -> list[ModelMessage]:
    return [ModelRequest(parts=[UserPromptPart(content="hello")])]


@pytest.fixture
def second() -> Iterator[FakeProvider]:
    """Another fake provider, for policies over two live deployments."""
    with FakeProvider(api_key="sk-test") as provider:
        yield provider


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def own_gateway(backend: Backend, clock: Clock | None = None, **options: Any) -> Gateway:
    """A gateway on the test database with its own knobs (no sleeping between rounds)."""

    async def no_sleep(_seconds: float) -> None:
        return None

    return Gateway(
        backend.db,
        Sealer(backend.settings.secret_key or ""),
        GatewayOptions(catalog_ttl_seconds=0, **options),
        clock=clock or time.monotonic,
        sleep=no_sleep,
    )


def call(gateway: Gateway, alias: str) -> Completion:
    """One request through `gateway` on a loop of its own, its clients closed afterwards."""

    async def go() -> Completion:
        try:
            return await gateway.request(CONTEXT, alias, hello())
        finally:
            await gateway.aclose()

    return asyncio.run(go())


def policy(client: httpx.Client, name: str, deployments: list[str], **fields: Any) -> None:
    body = {"name": name, "deployments": deployments, **fields}
    response = client.post("/model-policies", json=body)
    assert response.status_code == 201, response.text


def test_fallback_on_server_error_to_the_next_deployment(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider, second: FakeProvider
) -> None:
    deploy("first")
    deploy("backup", base_url=second.openai_base_url)
    policy(models, "smart", ["first", "backup"], retries=0)
    provider.script(Failure(500, "boom"))
    second.script("from the backup")
    reply = chat(models, "smart").json()
    assert reply["deployment"] == "backup"
    assert reply["content"] == "from the backup"
    assert [(a["deployment"], a["outcome"]) for a in reply["attempts"]] == [
        ("first", "error"),
        ("backup", "ok"),
    ]
    # Our retries only: the SDK made exactly one request to the failing deployment.
    assert provider.request_count == 1
    usage = models.get("/usage", params={"group_by": "deployment"}).json()
    assert {g["key"]: g["errors"] for g in usage["groups"]} == {"backup": 0, "first": 1}


def test_a_429_falls_back_and_the_deployment_rests_for_its_retry_after(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider, second: FakeProvider
) -> None:
    deploy("first")
    deploy("backup", base_url=second.openai_base_url)
    policy(models, "smart", ["first", "backup"], retries=0)
    provider.script(Failure(429, "slow down", retry_after=30))
    assert chat(models, "smart").json()["attempts"][0]["outcome"] == "rate_limited"
    # Within the Retry-After the first deployment is not asked at all.
    later = chat(models, "smart").json()
    assert later["attempts"][0] == {
        "deployment": "first",
        "outcome": "cooling_down",
        "error": None,
        "latency_ms": 0.0,
    }
    assert provider.request_count == 1
    assert second.request_count == 2


def test_a_short_retry_after_is_waited_for_when_nothing_else_is_left(
    backend: Backend, deploy: DeploymentMaker, provider: FakeProvider, models: httpx.Client
) -> None:
    deploy("only")
    provider.script(Failure(429, "wait a moment", retry_after=1), "after waiting")
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(seconds)

    gateway = Gateway(
        backend.db,
        Sealer(backend.settings.secret_key or ""),
        GatewayOptions(catalog_ttl_seconds=0, retry_base_seconds=0.01),
        sleep=sleep,
    )
    completion = call(gateway, "only")
    assert completion.response.parts[0].content == "after waiting"  # type: ignore[union-attr]
    assert slept and slept[0] >= 0.9


def test_timeouts_fall_back(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider, second: FakeProvider
) -> None:
    deploy("slow", timeout_seconds=0.2)
    deploy("quick", base_url=second.openai_base_url)
    policy(models, "smart", ["slow", "quick"], retries=0)
    provider.script(Reply(text="too late", delay=2))
    reply = chat(models, "smart").json()
    assert reply["deployment"] == "quick"
    assert reply["attempts"][0]["outcome"] == "timeout"


def test_the_breaker_opens_after_repeated_failures_and_a_probe_closes_it(
    backend: Backend,
    models: httpx.Client,
    deploy: DeploymentMaker,
    provider: FakeProvider,
    second: FakeProvider,
) -> None:
    deploy("flaky")
    deploy("steady", base_url=second.openai_base_url)
    clock = Clock()
    gateway = own_gateway(backend, clock, breaker_failures=2, breaker_cooldown_seconds=10)
    provider.fail_all(503)
    policy_name = "flaky-first"
    policy(models, policy_name, ["flaky", "steady"], retries=0)
    for _ in range(2):
        call(gateway, policy_name)
    assert provider.request_count == 2
    # Open: the flaky deployment is skipped without a request.
    skipped = call(gateway, policy_name)
    assert skipped.attempts[0].outcome == "circuit_open"
    assert provider.request_count == 2
    # After the cool-down one probe goes through; it succeeds and closes the breaker.
    provider.reset()
    clock.now += 11
    probed = call(gateway, policy_name)
    assert probed.deployment.name == "flaky"
    assert provider.request_count == 1
    again = call(gateway, policy_name)
    assert again.deployment.name == "flaky"


def test_a_failed_probe_opens_the_breaker_again(
    backend: Backend, deploy: DeploymentMaker, provider: FakeProvider
) -> None:
    deploy("flaky")
    clock = Clock()
    gateway = own_gateway(backend, clock, breaker_failures=1, breaker_cooldown_seconds=10)
    provider.fail_all(500)
    with pytest.raises(ModelUnavailable):
        call(gateway, "flaky")
    clock.now += 11
    with pytest.raises(ModelUnavailable):
        call(gateway, "flaky")
    assert provider.request_count == 2  # the first call (its second round skips), one probe
    with pytest.raises(ModelUnavailable) as refused:
        call(gateway, "flaky")
    assert provider.request_count == 2
    assert refused.value.extra["attempts"][0]["outcome"] == "circuit_open"


def test_rate_limits_are_shared_through_the_database(
    backend: Backend,
    models: httpx.Client,
    deploy: DeploymentMaker,
    provider: FakeProvider,
    second: FakeProvider,
) -> None:
    deploy("limited", requests_per_minute=2)
    deploy("spare", base_url=second.openai_base_url)
    policy(models, "limited-first", ["limited", "spare"], retries=0)
    # Two gateways stand for two processes: the second sees the first's requests.
    one, two = own_gateway(backend), own_gateway(backend)
    first = call(one, "limited-first")
    second_call = call(two, "limited-first")
    third = call(one, "limited-first")
    assert [c.deployment.name for c in (first, second_call, third)] == [
        "limited",
        "limited",
        "spare",
    ]
    assert third.attempts[0].outcome == "rate_limited_locally"
    assert provider.request_count == 2


def test_required_capabilities_filter_deployments(
    models: httpx.Client, deploy: DeploymentMaker, second: FakeProvider
) -> None:
    deploy("textonly", capabilities={"tools": False, "json_output": False})
    deploy("vision", base_url=second.openai_base_url, capabilities={"vision": True})
    policy(models, "eyes", ["textonly", "vision"], required_capabilities=["vision"])
    assert chat(models, "eyes").json()["deployment"] == "vision"
    policy(models, "none", ["textonly"], required_capabilities=["vision"])
    refused = chat(models, "none")
    assert refused.status_code == 503
    assert "vision" in refused.json()["detail"]


def test_cost_strategy_tries_the_cheapest_first(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider, second: FakeProvider
) -> None:
    deploy("dear", prices={"input_per_mtok": 10, "output_per_mtok": 30})
    deploy(
        "cheap-one",
        base_url=second.openai_base_url,
        prices={"input_per_mtok": 0.1, "output_per_mtok": 0.2},
    )
    policy(models, "thrifty", ["dear", "cheap-one"], strategy="cost")
    reply = chat(models, "thrifty").json()
    assert reply["deployment"] == "cheap-one"
    assert reply["cost_usd"] > 0


def test_streams_fall_back_before_the_first_token_only(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider, second: FakeProvider
) -> None:
    deploy("first")
    deploy("backup", base_url=second.openai_base_url)
    policy(models, "smart", ["first", "backup"], retries=0)
    provider.script(Failure(500, "boom"))
    second.script("streamed from the backup")
    events = stream(models, "smart")
    assert "".join(e["content"] for name, e in events if name == "delta") == (
        "streamed from the backup"
    )
    done = dict(events)["done"]
    assert done["deployment"] == "backup"
    assert done["output_tokens"] > 0
    # After the first token a broken stream is not replayed elsewhere: the client sees an error.
    provider.reset()
    second.reset()
    provider.script(Reply(text="one two three four five six", break_stream=True))
    broken = stream(models, "smart")
    assert broken[0][0] == "delta"
    assert broken[-1][0] == "error"
    assert second.request_count == 0


def stream(client: httpx.Client, model: str) -> list[tuple[str, dict[str, Any]]]:
    """The server-sent events of a streamed playground chat, as (event, data) pairs."""
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}], "stream": True}
    events: list[tuple[str, dict[str, Any]]] = []
    with client.stream("POST", "/playground/chat", json=body) as response:
        assert response.status_code == 200
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, orjson.loads(line.removeprefix("data: "))))
    return events


def test_a_stream_refused_before_it_starts_is_a_problem_response(
    models: httpx.Client, deploy: DeploymentMaker
) -> None:
    deploy("dead", base_url=dead_url())
    body = {"model": "dead", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    response = models.post("/playground/chat", json=body)
    assert response.status_code == 503
    assert response.json()["code"] == "model_unavailable"


@pytest.mark.parametrize("protocol", ["anthropic", "gemini"])
def test_anthropic_and_gemini_deployments_answer_and_stream(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider, protocol: str
) -> None:
    base_url = provider.anthropic_base_url if protocol == "anthropic" else provider.gemini_base_url
    model = "claude-haiku-4-5" if protocol == "anthropic" else "gemini-2.5-flash"
    deploy("other", provider=protocol, model=model, base_url=base_url)
    provider.script(f"hello from {protocol}", f"streamed {protocol}")
    reply = chat(models, "other").json()
    assert reply["content"] == f"hello from {protocol}"
    assert reply["cost_usd"] > 0  # priced by genai-prices
    assert provider.last_request.protocol == protocol
    events = stream(models, "other")
    assert "".join(e["content"] for n, e in events if n == "delta") == f"streamed {protocol}"


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_an_agent_with_tools_runs_through_the_gateway(
    backend: Backend, deploy: DeploymentMaker, provider: FakeProvider, protocol: str
) -> None:
    # Our own prices, not genai-prices': the costs the agent reports must be the metered ones.
    prices = {"input_per_mtok": 1000, "output_per_mtok": 3000}
    if protocol == "openai":
        deploy("gpt", prices=prices)
    else:
        deploy(
            "gpt",
            provider="anthropic",
            model="claude-haiku-4-5",
            base_url=provider.base_url,
            prices=prices,
        )
    provider.script(ToolCall("add", {"a": 2, "b": 3}), "the sum is 5")
    gateway = own_gateway(backend)

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    agent = Agent(RoutedModel(gateway, "gpt", CONTEXT), tools=[add])

    async def run() -> Any:
        try:
            return await agent.run("what is 2 + 3?")
        finally:
            await gateway.aclose()

    result = asyncio.run(run())
    assert result.output == "the sum is 5"
    # Each protocol carries the tool result its own way (a string, or Anthropic content blocks).
    assert "5" in str(provider.requests[1].tool_results)
    assert provider.requests[0].tool_names == ["add"]
    assert {r.protocol for r in provider.requests} == {protocol}
    # pydantic-ai reports what the gateway metered for each request (not its own estimate).
    with backend.db.transaction(DEFAULT_TENANT_ID, write=False) as session:
        metered = session.scalars(
            select(UsageRow.cost_nanos).order_by(UsageRow.created_at).limit(2)
        ).all()
    costs = [m.usage.cost for m in result.all_messages() if isinstance(m, ModelResponse)]
    assert costs == [Decimal(nanos) / 10**9 for nanos in metered]
    assert all(cost and cost > 0 for cost in costs)
