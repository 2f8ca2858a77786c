"""Model-layer fixtures: fake providers on 127.0.0.1, and clients on the shared server.

Every test starts from an emptied database, so the server's gateway forgets the catalogs it
has cached (it would otherwise route with deployments of an earlier test for a second or two).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from missionctl.models.gateway import Gateway
from tests.conftest import Backend
from tests.models.fake_providers import FakeProvider


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeProvider]:
    """One fake provider (OpenAI, Anthropic, Gemini) for the session."""
    with FakeProvider(api_key="sk-test") as provider:
        yield provider


@pytest.fixture
def provider(fake: FakeProvider) -> FakeProvider:
    """The session's fake provider, its script and request log emptied."""
    fake.reset()
    return fake


@pytest.fixture
def gateway(api: httpx.Client, backend: Backend) -> Gateway:
    """The shared server's gateway, with no cached catalogs (after `api` emptied the database)."""
    state = backend.app.state.mission_control  # type: ignore[attr-defined]
    gateway: Gateway = state.gateway
    gateway.invalidate()
    return gateway


@pytest.fixture
def models(api: httpx.Client, gateway: Gateway) -> httpx.Client:
    """The admin client, with the gateway reset for this test."""
    return api


DeploymentMaker = Callable[..., dict[str, Any]]


@pytest.fixture
def deploy(models: httpx.Client, provider: FakeProvider) -> DeploymentMaker:
    """Add a deployment pointing at the fake provider (OpenAI protocol unless told otherwise)."""

    def make(name: str, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": name,
            "provider": "openai",
            "model": "gpt-4o-mini",
            "base_url": provider.openai_base_url,
            "api_key": "sk-test",
            **fields,
        }
        response = models.post("/models", json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    return make


def chat(client: httpx.Client, model: str, text: str = "hello", **extra: Any) -> httpx.Response:
    """POST a one-message playground chat."""
    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return client.post("/playground/chat", json=body)
