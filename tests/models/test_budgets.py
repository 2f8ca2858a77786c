"""Hard budgets: checked before a call, charged after, refused when spent, raised to continue."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from pydantic_ai.messages import ModelRequest, UserPromptPart
from pydantic_ai.settings import ModelSettings

from missionctl.db import DEFAULT_TENANT_ID, utcnow
from missionctl.errors import BudgetExhausted
from missionctl.models import ledger
from missionctl.models.accounting import period_key
from missionctl.models.gateway import Gateway, GatewayOptions
from missionctl.models.metering import CallContext
from missionctl.sealing import Sealer
from tests.conftest import Backend
from tests.models.conftest import DeploymentMaker, chat
from tests.models.fake_providers import FakeProvider, Reply, Usage

# gpt-4o-mini: $0.15 in, $0.60 out per million tokens.
PRICE = {"input_per_mtok": 1000.0, "output_per_mtok": 1000.0}  # $0.001 a token: easy sums


def budget(client: httpx.Client, **fields: object) -> dict[str, object]:
    response = client.post("/budgets", json={"period": "monthly", **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_call_is_charged_its_actual_cost(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider
) -> None:
    deploy("gpt", prices=PRICE)
    created = budget(models, scope="tenant", limit_usd=10)
    provider.script(Reply(text="ok", usage=Usage(input_tokens=100, output_tokens=50)))
    reply = chat(models, "gpt").json()
    assert reply["cost_usd"] == 0.15
    spent = models.get(f"/budgets/{created['budget_id']}").json()
    assert spent["spent_usd"] == 0.15
    assert spent["spent_tokens"] == 150
    assert spent["held_usd"] == 0
    assert spent["is_exhausted"] is False


def test_an_exhausted_budget_refuses_raises_an_event_and_continues_when_raised(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider
) -> None:
    deploy("gpt", prices=PRICE)
    created = budget(models, scope="tenant", limit_tokens=200)
    provider.script(Reply(text="ok", usage=Usage(input_tokens=150, output_tokens=50)))
    assert chat(models, "gpt", max_tokens=10).status_code == 200
    refused = chat(models, "gpt", max_tokens=10)
    assert refused.status_code == 402
    assert refused.json()["code"] == "budget_exhausted"
    assert refused.json()["budget_id"] == created["budget_id"]
    assert provider.request_count == 1  # the refused call never reached the provider
    # One event however many calls are refused.
    assert chat(models, "gpt", max_tokens=10).status_code == 402
    events = models.get("/activities", params={"event_type": "budget.exhausted"}).json()["items"]
    assert len(events) == 1
    assert events[0]["payload"]["budget_id"] == created["budget_id"]
    assert models.get(f"/budgets/{created['budget_id']}").json()["is_exhausted"] is True
    admin_id = models.get("/auth/me").json()["user"]["user_id"]
    notes = models.get("/notifications", params={"user_id": admin_id}).json()["items"]
    assert [(n["kind"], n["recipient_user_id"]) for n in notes] == [("budget", admin_id)]
    assert "exhausted" in notes[0]["content"]
    raised = models.patch(f"/budgets/{created['budget_id']}", json={"limit_tokens": 1000})
    assert raised.json()["is_exhausted"] is False
    assert chat(models, "gpt", max_tokens=10).status_code == 200


def test_the_estimate_is_checked_before_the_call(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider
) -> None:
    deploy("gpt", prices=PRICE)
    budget(models, scope="tenant", limit_usd=0.05)  # 50 tokens' worth
    refused = chat(models, "gpt", max_tokens=100)  # 100 output tokens alone would not fit
    assert refused.status_code == 402
    assert provider.request_count == 0
    assert chat(models, "gpt", max_tokens=10).status_code == 200


def test_an_agent_refused_by_its_budget_is_notified(
    models: httpx.Client, deploy: DeploymentMaker, gateway: Gateway
) -> None:
    deploy("gpt", prices=PRICE)
    agent = models.post("/agents", json={"name": "scout", "role": "Researcher"}).json()
    budget(models, scope="agent", scope_id=agent["agent_id"], limit_tokens=1)
    context = CallContext(DEFAULT_TENANT_ID, agent_id=uuid.UUID(agent["agent_id"]))
    messages = [ModelRequest(parts=[UserPromptPart(content="hi")])]

    async def ask() -> None:
        try:
            await gateway.request(context, "gpt", messages)
        finally:
            await gateway.aclose()

    with pytest.raises(BudgetExhausted) as refused:
        asyncio.run(ask())
    assert refused.value.extra["scope"] == "agent"
    notes = models.get("/notifications", params={"agent_id": agent["agent_id"]}).json()["items"]
    assert [n["kind"] for n in notes] == ["budget"]


def test_budgets_apply_by_scope(
    models: httpx.Client, deploy: DeploymentMaker, backend: Backend, gateway: Gateway
) -> None:
    deploy("gpt", prices=PRICE)
    agent_a, agent_b = uuid.uuid4(), uuid.uuid4()
    budget(models, scope="agent", scope_id=str(agent_a), limit_tokens=1)
    budget(models, scope="workflow", scope_id="nightly", limit_tokens=1, period="daily")
    messages = [ModelRequest(parts=[UserPromptPart(content="hi")])]

    async def ask(context: CallContext) -> str:
        try:
            await gateway.request(context, "gpt", messages)
        except BudgetExhausted:
            return "refused"
        finally:
            await gateway.aclose()
        return "ok"

    assert asyncio.run(ask(CallContext(DEFAULT_TENANT_ID, agent_id=agent_a))) == "refused"
    assert asyncio.run(ask(CallContext(DEFAULT_TENANT_ID, agent_id=agent_b))) == "ok"
    assert asyncio.run(ask(CallContext(DEFAULT_TENANT_ID, workflow="nightly"))) == "refused"
    assert asyncio.run(ask(CallContext(DEFAULT_TENANT_ID, workflow="weekly"))) == "ok"
    budget_rows = models.get("/budgets", params={"scope": "agent"}).json()
    assert [b["scope_id"] for b in budget_rows] == [str(agent_a)]


def test_concurrent_calls_cannot_overspend_beyond_the_estimates_in_flight(
    models: httpx.Client, deploy: DeploymentMaker, backend: Backend, provider: FakeProvider
) -> None:
    """Forty calls at once against room for ten: exactly ten run, whatever the interleaving."""
    deploy("gpt", prices=PRICE)
    limit_usd = 1.0  # each call is estimated (and charged) at 100 tokens = $0.10
    created = budget(models, scope="tenant", limit_usd=limit_usd)
    provider.script(
        *[Reply(text="ok", delay=0.05, usage=Usage(input_tokens=90, output_tokens=10))] * 40
    )
    sealer = Sealer(backend.settings.secret_key or "")
    # Four gateways in four threads stand for four processes sharing the database.
    gateways = [
        Gateway(backend.db, sealer, GatewayOptions(catalog_ttl_seconds=0)) for _ in range(4)
    ]
    settings = ModelSettings(max_tokens=10)

    async def many(gateway: Gateway) -> list[str]:
        async def one(i: int) -> str:
            text = "x" * 360  # 90 tokens estimated
            request = [ModelRequest(parts=[UserPromptPart(content=text)])]
            try:
                await gateway.request(CallContext(DEFAULT_TENANT_ID), "gpt", request, settings)
            except BudgetExhausted:
                return "refused"
            return "ok"

        try:
            return await asyncio.gather(*(one(i) for i in range(10)))
        finally:
            await gateway.aclose()

    with ThreadPoolExecutor(4) as pool:
        outcomes = [
            o for result in pool.map(lambda g: asyncio.run(many(g)), gateways) for o in result
        ]
    assert outcomes.count("ok") == 10
    assert outcomes.count("refused") == 30
    final = models.get(f"/budgets/{created['budget_id']}").json()
    assert final["spent_usd"] <= limit_usd
    assert final["held_usd"] == 0


def test_bad_budgets_are_refused(models: httpx.Client) -> None:
    for body in (
        {"scope": "tenant"},
        {"scope": "agent", "limit_usd": 1},
        {"scope": "agent", "scope_id": "not-a-uuid", "limit_usd": 1},
        {"scope": "tenant", "scope_id": "x", "limit_usd": 1},
        {"scope": "planet", "limit_usd": 1},
        {"scope": "tenant", "limit_usd": -1},
        {"scope": "tenant", "limit_usd": 1, "period": "hourly"},
    ):
        response = models.post("/budgets", json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "validation_failed"
    created = budget(models, scope="tenant", limit_usd=1)
    cleared = models.patch(f"/budgets/{created['budget_id']}", json={"limit_usd": None})
    assert cleared.status_code == 422
    assert models.get(f"/budgets/{uuid.uuid4()}").status_code == 404
    assert models.delete(f"/budgets/{created['budget_id']}").status_code == 204
    assert models.get("/budgets").json() == []


def test_a_hold_of_a_call_that_never_settled_is_given_back_once(
    models: httpx.Client, backend: Backend
) -> None:
    """A process killed mid-call leaves its hold; housekeeping returns it, a late settle cannot."""
    created = budget(models, scope="tenant", limit_tokens=1000)
    key = ledger.BudgetKey(uuid.UUID(str(created["budget_id"])), period_key("monthly", utcnow()))
    now = utcnow()
    with backend.db.connect() as conn:
        (stranded,) = ledger.hold(conn, DEFAULT_TENANT_ID, [key], 0, 600, now)
    assert models.get(f"/budgets/{key.budget_id}").json()["held_tokens"] == 600
    with pytest.raises(ledger.NoRoom), backend.db.connect() as conn:  # the refusal rolls back
        ledger.hold(conn, DEFAULT_TENANT_ID, [key], 0, 600, now)
    with backend.db.connect() as conn:
        assert ledger.release_expired_holds(conn, now) == 0  # not expired yet
        later = now + timedelta(seconds=ledger.HOLD_SECONDS + 1)
        assert ledger.release_expired_holds(conn, later) == 1
    assert models.get(f"/budgets/{key.budget_id}").json()["held_tokens"] == 0
    # The call turns up after all: it is charged, but its estimate is not given back twice.
    with backend.db.connect() as conn:
        ledger.settle(conn, DEFAULT_TENANT_ID, [key], [stranded], 0, 100)
    after = models.get(f"/budgets/{key.budget_id}").json()
    assert (after["held_tokens"], after["spent_tokens"]) == (0, 100)
