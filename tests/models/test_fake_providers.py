"""The fake providers speak the real wire protocols: the real SDKs and pydantic-ai accept them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from anthropic import AsyncAnthropic
from anthropic.types import ToolUseBlock
from google.genai import Client as GenaiClient
from google.genai.types import HttpOptions
from openai import AsyncOpenAI
from pydantic_ai import Agent
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelHTTPError,
)
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.google import GoogleModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.google import GoogleProvider
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition

from tests.models.fake_providers import (
    Failure,
    FakeProvider,
    Reply,
    ToolCall,
    Usage,
    dead_url,
)

KEY = "sk-fake-test"
PROTOCOLS = ["openai", "anthropic", "gemini"]
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}
# Anthropic's SDK refuses a non-streamed request whose max_tokens could take over 10 minutes, and
# pydantic-ai then streams it; a small max_tokens keeps `request()` a plain JSON request.
SETTINGS = ModelSettings(max_tokens=1024)
HI: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart(content="hi")])]
WEATHER = ToolDefinition(
    name="get_weather",
    description="The weather in a city.",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)
TOOLS = ModelRequestParameters(function_tools=[WEATHER])
NO_TOOLS = ModelRequestParameters()


@pytest.fixture(scope="module")
def fake_llm_server() -> Iterator[FakeProvider]:
    """This module's own fake provider (not conftest's shared `fake`, which other tests use)."""
    with FakeProvider(api_key=KEY) as provider:
        yield provider


@pytest.fixture
def fake_llm(fake_llm_server: FakeProvider) -> FakeProvider:
    """The module's fake provider with an empty script and log, and its defaults back."""
    fake_llm_server.reset()
    fake_llm_server.api_key = KEY
    fake_llm_server.latency_seconds = 0.0
    return fake_llm_server


@asynccontextmanager
async def model_for(protocol: str, base_url: str, api_key: str = KEY) -> AsyncIterator[Model]:
    """A pydantic-ai model of `protocol` pointed at `base_url`, with SDK retries off."""
    if protocol == "openai":
        async with AsyncOpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0) as oai:
            yield OpenAIChatModel(MODELS[protocol], provider=OpenAIProvider(openai_client=oai))
    elif protocol == "anthropic":
        async with AsyncAnthropic(base_url=base_url, api_key=api_key, max_retries=0) as claude:
            provider = AnthropicProvider(anthropic_client=claude)
            yield AnthropicModel(MODELS[protocol], provider=provider)
    else:
        # google-genai does not retry unless given retry_options.
        google = GoogleProvider(api_key=api_key, base_url=base_url)
        async with GoogleModel(MODELS[protocol], provider=google) as model:
            yield model


async def request(
    fake_llm: FakeProvider, protocol: str, params: ModelRequestParameters = NO_TOOLS
) -> ModelResponse:
    async with model_for(protocol, fake_llm.base_url) as model:
        return await model.request(HI, SETTINGS, params)


async def stream(
    fake_llm: FakeProvider, protocol: str, params: ModelRequestParameters = NO_TOOLS
) -> tuple[list[str], ModelResponse]:
    """The text pieces a streamed request yields, and the response it adds up to."""
    pieces: list[str] = []
    async with (
        model_for(protocol, fake_llm.base_url) as model,
        model.request_stream(HI, SETTINGS, params) as response,
    ):
        async for event in response:
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                pieces.append(event.part.content)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                pieces.append(event.delta.content_delta)
        return pieces, response.get()


def tool_calls(response: ModelResponse) -> list[tuple[str, dict[str, Any]]]:
    return [(p.tool_name, p.args_as_dict()) for p in response.parts if isinstance(p, ToolCallPart)]


# pydantic-ai models, each protocol


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_text_reply_and_usage(fake_llm: FakeProvider, protocol: str) -> None:
    response = asyncio.run(request(fake_llm, protocol))

    assert response.parts == [TextPart(content="fake reply to: hi")]
    # ceil(len("hi") / 4) and ceil(len("fake reply to: hi") / 4)
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1, 5)
    [sent] = fake_llm.requests
    assert (sent.protocol, sent.stream, sent.api_key) == (protocol, False, KEY)
    assert sent.model == MODELS[protocol]


def test_anthropic_request_streams_when_max_tokens_is_large(fake_llm: FakeProvider) -> None:
    async def run() -> ModelResponse:
        async with model_for("anthropic", fake_llm.base_url) as model:
            return await model.request(HI, None, NO_TOOLS)

    response = asyncio.run(run())

    assert response.parts == [TextPart(content="fake reply to: hi")]
    assert fake_llm.last_request.stream  # the model's 64k max_tokens: the SDK insists on streaming


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_scripted_tool_call(fake_llm: FakeProvider, protocol: str) -> None:
    fake_llm.script(ToolCall("get_weather", {"city": "Paris"}))

    response = asyncio.run(request(fake_llm, protocol, TOOLS))

    assert tool_calls(response) == [("get_weather", {"city": "Paris"})]
    assert fake_llm.last_request.tool_names == ["get_weather"]
    assert fake_llm.pending == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_parallel_tool_calls_with_text(fake_llm: FakeProvider, protocol: str) -> None:
    calls = [ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_weather", {"city": "Oslo"})]
    fake_llm.script(Reply("Let me look.", tool_calls=calls))

    response = asyncio.run(request(fake_llm, protocol, TOOLS))

    assert response.parts[0] == TextPart(content="Let me look.")
    assert tool_calls(response) == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Oslo"}),
    ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_streamed_text_comes_in_pieces(fake_llm: FakeProvider, protocol: str) -> None:
    pieces, response = asyncio.run(stream(fake_llm, protocol))

    assert len(pieces) == 3
    assert "".join(pieces) == "fake reply to: hi"
    assert response.parts == [TextPart(content="fake reply to: hi")]
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1, 5)
    assert fake_llm.last_request.stream


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_chunk_delay_spaces_out_stream_events(fake_llm: FakeProvider, protocol: str) -> None:
    fake_llm.script(Reply("slowly but surely", chunk_delay=0.03))
    started = time.monotonic()

    pieces, _response = asyncio.run(stream(fake_llm, protocol))

    assert "".join(pieces) == "slowly but surely"
    assert time.monotonic() - started >= 0.03 * 4  # every protocol sends at least 4 events


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_streamed_tool_call(fake_llm: FakeProvider, protocol: str) -> None:
    fake_llm.script(ToolCall("get_weather", {"city": "Paris", "days": 3}))

    _pieces, response = asyncio.run(stream(fake_llm, protocol, TOOLS))

    assert tool_calls(response) == [("get_weather", {"city": "Paris", "days": 3})]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_usage_override(fake_llm: FakeProvider, protocol: str) -> None:
    fake_llm.script(Reply("ok", usage=Usage(1000, 42)), Reply("ok", usage=Usage(1000, 42)))

    response = asyncio.run(request(fake_llm, protocol))
    _pieces, streamed = asyncio.run(stream(fake_llm, protocol))

    for usage in (response.usage, streamed.usage):
        assert (usage.input_tokens, usage.output_tokens) == (1000, 42)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_rate_limit_is_a_429_and_not_retried(fake_llm: FakeProvider, protocol: str) -> None:
    fake_llm.script(Failure(429, "slow down", retry_after=7))

    with pytest.raises(ModelHTTPError) as caught:
        asyncio.run(request(fake_llm, protocol))

    assert caught.value.status_code == 429
    assert caught.value.retry_after == 7.0  # header for OpenAI/Anthropic, RetryInfo for Gemini
    assert fake_llm.request_count == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_broken_stream(fake_llm: FakeProvider, protocol: str) -> None:
    fake_llm.script(Reply("a long answer that never arrives in full", break_stream=True))
    pieces: list[str] = []

    async def run() -> None:
        async with (
            model_for(protocol, fake_llm.base_url) as model,
            model.request_stream(HI, SETTINGS, NO_TOOLS) as response,
        ):
            async for event in response:
                if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                    pieces.append(event.part.content)

    with pytest.raises(ModelConnectionError):
        asyncio.run(run())

    assert pieces == ["a long answer "]  # the first of three pieces got through
    assert fake_llm.request_count == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_wrong_api_key(fake_llm: FakeProvider, protocol: str) -> None:
    fake_llm.api_key = "sk-the-right-one"
    fake_llm.script("never sent")

    with pytest.raises(ModelHTTPError) as caught:
        asyncio.run(request(fake_llm, protocol))

    # Gemini answers a bad key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
    assert caught.value.status_code == (400 if protocol == "gemini" else 401)
    assert isinstance(caught.value, ModelAuthenticationError)
    assert fake_llm.pending == 1  # refused before the script was consulted


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_fail_all_until_reset(fake_llm: FakeProvider, protocol: str) -> None:
    fake_llm.fail_all(503, "down for maintenance")
    for _ in range(2):
        with pytest.raises(ModelHTTPError) as caught:
            asyncio.run(request(fake_llm, protocol))
        assert caught.value.status_code == 503
    assert fake_llm.request_count == 2

    fake_llm.reset()

    assert asyncio.run(request(fake_llm, protocol)).parts == [TextPart(content="fake reply to: hi")]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_nothing_listening(protocol: str) -> None:
    async def run() -> None:
        async with model_for(protocol, dead_url()) as model:
            await model.request(HI, SETTINGS, NO_TOOLS)

    with pytest.raises(ModelAPIError):
        asyncio.run(run())


def test_stopped_provider_refuses_connections() -> None:
    with FakeProvider() as provider:
        url = provider.openai_base_url
        assert httpx.get(f"{url}/models", headers={"Authorization": "Bearer x"}).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/models")


def test_delay_and_latency(fake_llm: FakeProvider) -> None:
    fake_llm.script(Reply("late", delay=0.2))
    started = time.monotonic()
    assert asyncio.run(request(fake_llm, "openai")).parts == [TextPart(content="late")]
    assert time.monotonic() - started >= 0.2

    fake_llm.latency_seconds = 0.1
    started = time.monotonic()
    asyncio.run(request(fake_llm, "openai"))
    assert time.monotonic() - started >= 0.1


def test_agent_tool_loop(fake_llm: FakeProvider) -> None:
    fake_llm.script(ToolCall("get_weather", {"city": "Paris"}), "It is sunny in Paris.")

    async def run() -> str:
        async with model_for("openai", fake_llm.base_url) as model:
            agent = Agent(model)

            @agent.tool_plain
            def get_weather(city: str) -> str:
                """The weather in a city."""
                return f"sunny in {city}"

            result = await agent.run("What is the weather in Paris?")
            return result.output

    assert asyncio.run(run()) == "It is sunny in Paris."
    first, second = fake_llm.requests
    assert first.tool_names == second.tool_names == ["get_weather"]
    assert second.tool_results == ["sunny in Paris"]
    assert fake_llm.pending == 0


# The SDKs on their own


def test_openai_sdk(fake_llm: FakeProvider) -> None:
    fake_llm.script(ToolCall("get_weather", {"city": "Rome"}))

    async def run() -> None:
        async with AsyncOpenAI(
            base_url=fake_llm.openai_base_url, api_key=KEY, max_retries=0
        ) as oai:
            messages: Any = [{"role": "user", "content": "hello"}]
            completion = await oai.chat.completions.create(model="gpt-4o", messages=messages)
            [call] = completion.choices[0].message.tool_calls or []
            assert call.function.name == "get_weather"  # type: ignore[union-attr]
            assert call.function.arguments == '{"city":"Rome"}'  # type: ignore[union-attr]
            assert completion.choices[0].finish_reason == "tool_calls"

            chunks = await oai.chat.completions.create(
                model="gpt-4o",
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
            )
            text, usage = "", None
            async for chunk in chunks:
                text += "".join(c.delta.content or "" for c in chunk.choices)
                usage = chunk.usage or usage
            assert text == "fake reply to: hello"
            assert usage is not None
            assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (2, 5, 7)

            models = await oai.models.list()
            assert [m.id for m in models.data] == ["fake-model"]

    asyncio.run(run())
    assert [r.headers["authorization"] for r in fake_llm.requests] == [f"Bearer {KEY}"] * 3


def test_anthropic_sdk(fake_llm: FakeProvider) -> None:
    fake_llm.script(ToolCall("get_weather", {"city": "Rome"}, id="toolu_given"))

    async def run() -> None:
        async with AsyncAnthropic(base_url=fake_llm.base_url, api_key=KEY, max_retries=0) as claude:
            messages: Any = [{"role": "user", "content": "hello"}]
            message = await claude.messages.create(
                model="claude-haiku-4-5", max_tokens=100, messages=messages
            )
            [block] = message.content
            assert isinstance(block, ToolUseBlock)
            assert (block.id, block.name, block.input) == (
                "toolu_given",
                "get_weather",
                {"city": "Rome"},
            )
            assert message.stop_reason == "tool_use"

            async with claude.messages.stream(
                model="claude-haiku-4-5", max_tokens=100, messages=messages
            ) as events:
                pieces = [text async for text in events.text_stream]
                final = await events.get_final_message()
            assert "".join(pieces) == "fake reply to: hello"
            assert len(pieces) == 3
            assert (final.usage.input_tokens, final.usage.output_tokens) == (2, 5)

            models = await claude.models.list()
            assert [m.id for m in models.data] == ["fake-model"]

    asyncio.run(run())
    # anthropic 2.x sends the API key as `Authorization: Bearer`, not `x-api-key`.
    assert [r.api_key for r in fake_llm.requests] == [KEY] * 3
    assert all("anthropic-version" in r.headers for r in fake_llm.requests)


def test_google_genai_sdk(fake_llm: FakeProvider) -> None:
    fake_llm.script(ToolCall("get_weather", {"city": "Rome"}))

    async def run() -> None:
        client = GenaiClient(api_key=KEY, http_options=HttpOptions(base_url=fake_llm.base_url))
        response = await client.aio.models.generate_content(
            model="gemini-2.5-flash", contents="hello"
        )
        [call] = response.function_calls or []
        assert (call.name, call.args) == ("get_weather", {"city": "Rome"})

        pieces = [
            chunk.text or ""
            async for chunk in await client.aio.models.generate_content_stream(
                model="gemini-2.5-flash", contents="hello"
            )
        ]
        assert pieces == ["fake re", "ply to:", " hello"]
        await client.aio.aclose()

    asyncio.run(run())
    first, second = fake_llm.requests
    assert first.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert second.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert second.query == {"alt": "sse"}
    assert second.headers["x-goog-api-key"] == KEY


def test_gemini_key_in_query_and_model_list(fake_llm: FakeProvider) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    url = f"{fake_llm.base_url}/v1beta/models/gemini-2.5-flash:generateContent"

    answer = httpx.post(url, params={"key": KEY}, json=body).json()
    missing = httpx.post(url, json=body)
    models = httpx.get(f"{fake_llm.base_url}/v1beta/models", params={"key": KEY}).json()

    assert answer["candidates"][0]["content"]["parts"] == [{"text": "fake reply to: hello"}]
    assert answer["usageMetadata"] == {
        "promptTokenCount": 2,
        "candidatesTokenCount": 5,
        "totalTokenCount": 7,
    }
    assert missing.status_code == 403
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"
    assert models["models"][0]["name"] == "models/fake-model"


def test_malformed_body_is_a_400(fake_llm: FakeProvider) -> None:
    answer = httpx.post(
        f"{fake_llm.openai_base_url}/chat/completions",
        content=b"{not json",
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_importable_by_path_without_the_test_suite() -> None:
    """The benchmark imports the module by path; it must not need pytest or missionctl."""
    code = (
        "import sys; sys.path.insert(0, 'tests/models'); import fake_providers, httpx\n"
        "with fake_providers.FakeProvider() as f:\n"
        "    r = httpx.post(f.openai_base_url + '/chat/completions',\n"
        "        headers={'Authorization': 'Bearer k'},\n"
        "        json={'model': 'm', 'messages': [{'role': 'user', 'content': 'x'}]})\n"
        "    assert r.json()['choices'][0]['message']['content'] == 'fake reply to: x'\n"
        "assert 'pytest' not in sys.modules and 'missionctl' not in sys.modules\n"
        "assert 'tests' not in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_structured_output_goes_over_the_wire_path_not_the_sdk(fake_llm: FakeProvider) -> None:
    """pydantic-ai asks for `auto` output with a structured type; the wire model resolves it
    to an output tool itself instead of falling back to the (slower) SDK model."""
    import ssl

    from pydantic import BaseModel

    from missionctl.models.openai_wire import OpenAIWireModel

    class Verdict(BaseModel):
        approved: bool
        comments: str

    def no_sdk() -> AsyncOpenAI:
        raise AssertionError("the SDK model was built")

    async def run() -> Verdict:
        model = OpenAIWireModel(
            "gpt-4o-mini",
            base_url=f"{fake_llm.base_url}/v1",
            api_key=KEY,
            timeout_seconds=10,
            ssl_context=ssl.create_default_context(),
            sdk_client=no_sdk,
        )
        try:
            agent = Agent(model, output_type=[Verdict, str])
            return (await agent.run("review this")).output  # type: ignore[return-value]
        finally:
            await model.aclose()

    fake_llm.script(ToolCall("final_result", {"approved": True, "comments": "fine"}))
    output = asyncio.run(run())
    [request] = fake_llm.requests  # one request, over httpx: the SDK was never built
    assert request.body["tools"][0]["function"]["name"] == "final_result"
    assert output == Verdict(approved=True, comments="fine")
