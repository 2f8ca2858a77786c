"""Metering: one usage row per request, reports by day/agent/model/task, CSV, the response cache."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic_ai.messages import ModelRequest, ModelResponse, UserPromptPart
from sqlalchemy import Connection, func, select

from missionctl.db import DEFAULT_TENANT_ID
from missionctl.models.gateway import Gateway
from missionctl.models.metering import CallContext
from missionctl.models.models import UsageRow
from tests.models.conftest import DeploymentMaker, chat
from tests.models.fake_providers import Failure, FakeProvider, Reply, Usage

PRICE = {"input_per_mtok": 1000.0, "output_per_mtok": 1000.0}  # $0.001 a token


def ask(gateway: Gateway, context: CallContext, alias: str) -> None:
    messages = [ModelRequest(parts=[UserPromptPart(content="hello")])]

    async def go() -> None:
        try:
            await gateway.request(context, alias, messages)
        finally:
            await gateway.aclose()

    asyncio.run(go())


def test_usage_is_aggregated_by_agent_model_and_task(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider, gateway: Gateway
) -> None:
    deploy("gpt", prices=PRICE)
    agent_a, agent_b, task = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    provider.script(
        *[Reply(text="ok", usage=Usage(input_tokens=10, output_tokens=5))] * 3,
    )
    ask(gateway, CallContext(DEFAULT_TENANT_ID, agent_id=agent_a, task_id=task), "gpt")
    ask(gateway, CallContext(DEFAULT_TENANT_ID, agent_id=agent_a, task_id=task), "gpt")
    ask(gateway, CallContext(DEFAULT_TENANT_ID, agent_id=agent_b), "gpt")
    ask(gateway, CallContext(DEFAULT_TENANT_ID, agent_id=agent_b), "offline")

    by_agent = models.get("/usage", params={"group_by": "agent"}).json()
    groups = {g["key"]: g for g in by_agent["groups"]}
    assert groups[str(agent_a)]["requests"] == 2
    assert groups[str(agent_a)]["cost_usd"] == 0.03
    assert groups[str(agent_a)]["input_tokens"] == 20
    assert groups[str(agent_b)]["requests"] == 2
    assert by_agent["total"]["requests"] == 4
    assert by_agent["total"]["cost_usd"] == 0.045

    by_model = {
        g["key"]: g["requests"] for g in models.get("/usage?group_by=model").json()["groups"]
    }
    assert by_model == {"gpt-4o-mini": 3, "offline": 1}
    by_task = models.get("/usage", params={"group_by": "task", "task_id": str(task)}).json()
    assert [(g["key"], g["requests"]) for g in by_task["groups"]] == [(str(task), 2)]
    today = datetime.now(UTC).date()
    by_day = models.get("/usage", params={"group_by": "day", "since": str(today)}).json()
    assert [(g["key"], g["requests"]) for g in by_day["groups"]] == [(str(today), 4)]
    tomorrow = today + timedelta(days=1)
    assert models.get("/usage", params={"since": str(tomorrow)}).json()["groups"] == []


def test_usage_exports_as_csv(models: httpx.Client, deploy: DeploymentMaker) -> None:
    deploy("gpt", prices=PRICE)
    chat(models, "gpt")
    chat(models, "offline")
    response = models.get("/usage", params={"group_by": "deployment", "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["group_by"], r["key"], r["requests"]) for r in rows] == [
        ("deployment", "gpt", "1"),
        ("deployment", "offline", "1"),
    ]
    assert float(rows[0]["cost_usd"]) > 0


def test_unpriced_models_are_flagged_not_counted_as_free(
    models: httpx.Client, deploy: DeploymentMaker
) -> None:
    deploy("mystery", provider="openai-compatible", model="homegrown-7b")
    reply = chat(models, "mystery").json()
    assert reply["cost_usd"] is None
    assert reply["is_priced"] is False
    total = models.get("/usage").json()["total"]
    assert total["unpriced_requests"] == 1
    assert total["requests"] == 1


def test_failed_requests_are_metered_too(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider
) -> None:
    deploy("gpt")
    provider.script(Failure(500, "boom"), "second time lucky")
    assert chat(models, "gpt").json()["content"] == "second time lucky"
    total = models.get("/usage").json()["total"]
    assert (total["requests"], total["errors"]) == (2, 1)


def test_bad_usage_queries_are_refused(models: httpx.Client) -> None:
    for params in ({"group_by": "planet"}, {"since": "yesterday"}, {"format": "xml"}, {"x": "1"}):
        response = models.get("/usage", params=params)
        assert response.status_code == 422, params
        assert response.json()["code"] == "validation_failed"


def test_the_response_cache_answers_repeats_without_a_request_or_a_charge(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider
) -> None:
    deploy("gpt", prices=PRICE)
    provider.script("the first answer", "a fresh answer")
    first = chat(models, "gpt", "what is 6 x 7?", cache_ttl_seconds=60).json()
    second = chat(models, "gpt", "what is 6 x 7?", cache_ttl_seconds=60).json()
    assert second["content"] == first["content"] == "the first answer"
    assert second["is_cache_hit"] is True
    assert second["cost_usd"] == 0
    assert provider.request_count == 1
    # A different question, or no cache asked for, goes to the provider.
    other = chat(models, "gpt", "what is 7 x 8?", cache_ttl_seconds=60).json()
    assert other["is_cache_hit"] is False
    assert provider.request_count == 2
    assert chat(models, "gpt", "what is 6 x 7?").json()["is_cache_hit"] is False
    total = models.get("/usage").json()["total"]
    assert total["cache_hits"] == 1


def test_a_policy_can_turn_the_cache_on(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider
) -> None:
    deploy("gpt")
    created = models.post(
        "/model-policies", json={"name": "cached", "deployments": ["gpt"], "cache_ttl_seconds": 1}
    )
    assert created.status_code == 201
    chat(models, "cached", "same question")
    assert chat(models, "cached", "same question").json()["is_cache_hit"] is True
    assert provider.request_count == 1


def test_a_callers_record_of_a_reply_commits_in_the_unit_of_work_that_meters_it(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider, gateway: Gateway
) -> None:
    deploy("gpt", prices=PRICE)
    provider.script("the answer", "not asked for")
    run_id = uuid.uuid4()
    context = CallContext(DEFAULT_TENANT_ID, run_id=run_id)
    messages = [ModelRequest(parts=[UserPromptPart(content="what is 6 x 7?")])]
    seen: list[tuple[str, int]] = []

    def record(conn: Connection, response: ModelResponse) -> None:
        # The reply's usage row is already written in this same transaction.
        metered = conn.scalar(
            select(func.count()).select_from(UsageRow).where(UsageRow.run_id == run_id)
        )
        seen.append((response.parts[0].content, metered))  # type: ignore[union-attr]

    async def go() -> None:
        try:
            await gateway.request(context, "gpt", messages, cache_ttl_seconds=60, record=record)
            # A cached reply was metered before: there is nothing new to record.
            cached = await gateway.request(
                context, "gpt", messages, cache_ttl_seconds=60, record=record
            )
            assert cached.is_cache_hit
        finally:
            await gateway.aclose()

    asyncio.run(go())
    assert seen == [("the answer", 1)]
    assert provider.request_count == 1


def test_a_reply_whose_record_fails_is_not_metered_either(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider, gateway: Gateway
) -> None:
    deploy("gpt", prices=PRICE)
    provider.script("the answer")
    run_id = uuid.uuid4()
    messages = [ModelRequest(parts=[UserPromptPart(content="hello")])]

    def record(conn: Connection, response: ModelResponse) -> None:
        raise RuntimeError("the record cannot be written")

    async def go() -> None:
        try:
            await gateway.request(
                CallContext(DEFAULT_TENANT_ID, run_id=run_id), "gpt", messages, record=record
            )
        finally:
            await gateway.aclose()

    with pytest.raises(RuntimeError, match="cannot be written"):
        asyncio.run(go())
    # They commit together or not at all.
    assert models.get("/usage", params={"group_by": "model"}).json()["total"]["requests"] == 0
