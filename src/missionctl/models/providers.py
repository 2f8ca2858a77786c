"""pydantic-ai models for deployments: one adapter per wire protocol, SDK retries off.

The SDKs' own retries are turned off (`max_retries=0`, no retry options for google-genai): the
gateway retries and falls back itself, across deployments, with one budget and one usage row
per request. Clients are kept per deployment configuration and event loop (an HTTP connection
pool belongs to the loop it was opened on). The SDKs are imported when a deployment first needs
them: together they take seconds to import, and most processes (the CLI, an offline-only
install) never use most of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import certifi
import httpx2
from pydantic_ai.models import Model

from missionctl.models.catalog import DeploymentSpec
from missionctl.models.offline import OfflineModel
from missionctl.models.openai_wire import OpenAIWireModel
from missionctl.models.schemas import Provider

if TYPE_CHECKING:
    from openai import AsyncOpenAI

MAX_CLIENTS = 256
NO_KEY = "not-needed"  # local OpenAI-compatible servers (Ollama, vLLM) take any key


Closer = Callable[[], Awaitable[None]]


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One TLS context for every provider client of the process.

    Building one loads the CA bundle (~20 ms); a client per deployment and event loop each
    building its own made a fresh gateway's first fallback slower than the fallback itself.
    """
    return ssl.create_default_context(cafile=certifi.where())


def build_model(spec: DeploymentSpec) -> tuple[Model, list[Closer]]:
    """A pydantic-ai model that sends requests to this deployment, and how to close its clients."""
    if spec.provider is Provider.OFFLINE:
        return OfflineModel(), []
    if spec.provider in (Provider.OPENAI, Provider.OPENAI_COMPATIBLE):
        wire = OpenAIWireModel(
            spec.model,
            base_url=spec.base_url or "https://api.openai.com/v1",
            api_key=spec.api_key or NO_KEY,
            timeout_seconds=spec.timeout_seconds,
            ssl_context=ssl_context(),
            sdk_client=functools.partial(_openai_client, spec),
        )
        return wire, [wire.aclose]
    if spec.provider is Provider.ANTHROPIC:
        return _anthropic(spec)
    if spec.provider is Provider.GEMINI:
        return _gemini(spec)
    raise ValueError(f"unknown provider {spec.provider}")


@dataclass
class _Built:
    model: Model
    closers: list[Closer]
    loop: asyncio.AbstractEventLoop


def _openai_client(spec: DeploymentSpec) -> AsyncOpenAI:
    from openai import AsyncOpenAI

    return AsyncOpenAI(
        base_url=spec.base_url,
        api_key=spec.api_key or NO_KEY,
        max_retries=0,
        timeout=spec.timeout_seconds,
        http_client=httpx2.AsyncClient(verify=ssl_context(), timeout=spec.timeout_seconds),
    )


def _anthropic(spec: DeploymentSpec) -> tuple[Model, list[Closer]]:
    from anthropic import AsyncAnthropic
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    client = AsyncAnthropic(
        api_key=spec.api_key or NO_KEY,
        base_url=spec.base_url,
        max_retries=0,
        timeout=spec.timeout_seconds,
        http_client=httpx2.AsyncClient(verify=ssl_context(), timeout=spec.timeout_seconds),
    )
    model = AnthropicModel(spec.model, provider=AnthropicProvider(anthropic_client=client))
    return model, [client.close]


def _gemini(spec: DeploymentSpec) -> tuple[Model, list[Closer]]:
    from pydantic_ai.models.google import GoogleModel
    from pydantic_ai.providers.google import GoogleProvider

    http = httpx2.AsyncClient(verify=ssl_context(), timeout=spec.timeout_seconds)
    provider = GoogleProvider(
        api_key=spec.api_key or NO_KEY, base_url=spec.base_url, http_client=http
    )
    return GoogleModel(spec.model, provider=provider), [http.aclose]


class ModelCache:
    """Built models by deployment configuration and event loop, least recently used dropped.

    Call `get` from inside a running loop; `close` (from any thread) closes every client on the
    loop it belongs to, so no connection outlives its server.
    """

    def __init__(self, size: int = MAX_CLIENTS) -> None:
        self._size = size
        self._models: OrderedDict[tuple[str, int], _Built] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec: DeploymentSpec) -> Model:
        """The model for `spec` on the running loop (built the first time)."""
        loop = asyncio.get_running_loop()
        key = (spec.cache_key, id(loop))
        with self._lock:
            built = self._models.get(key)
            if built is not None:
                self._models.move_to_end(key)
                return built.model
            model, closers = build_model(spec)
            self._models[key] = _Built(model, closers, loop)
            evicted = []
            while len(self._models) > self._size:
                evicted.append(self._models.popitem(last=False)[1])
        for old in evicted:
            _close_soon(old)
        return model

    def close(self, timeout: float = 5.0) -> None:
        """Close every client, each on its own loop (waiting up to `timeout` per loop)."""
        with self._lock:
            built = list(self._models.values())
            self._models.clear()
        for entry in built:
            if entry.loop.is_closed() or not entry.loop.is_running():
                continue
            future = asyncio.run_coroutine_threadsafe(_close(entry.closers), entry.loop)
            with contextlib.suppress(Exception):
                future.result(timeout)

    async def aclose(self) -> None:
        """Close the clients that belong to the running loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            mine = [key for key, entry in self._models.items() if entry.loop is loop]
            built = [self._models.pop(key) for key in mine]
        for entry in built:
            await _close(entry.closers)


async def _close(closers: list[Closer]) -> None:
    for closer in closers:
        with contextlib.suppress(Exception):
            await closer()


def _close_soon(entry: _Built) -> None:
    if entry.closers and entry.loop.is_running():
        asyncio.run_coroutine_threadsafe(_close(entry.closers), entry.loop)
