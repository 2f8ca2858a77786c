"""OpenAI chat completions, the common case sent straight over httpx; the rest via pydantic-ai.

Why our own path: the openai SDK spends ~0.6 ms of a ~1.2 ms local call building and parsing
typed objects, and pydantic-ai's `OpenAIChatModel` adds ~0.4 ms on top. A routed, budgeted,
metered call is meant to cost no more than half of `litellm.completion` (~3 ms here), so the
plain request — text, instructions, tool calls and tool results, function and output tools,
the usual sampling settings — is mapped here to the documented JSON and parsed with orjson.
Anything else (streaming, images and files, native structured output, reasoning settings)
goes to pydantic-ai's `OpenAIChatModel` on the official SDK, which handles all of it.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from pydantic_ai.exceptions import ModelConnectionError, ModelHTTPError, ModelTimeoutError
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ModelResponsePart,
    RetryPromptPart,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import RunContext, ToolDefinition
from pydantic_ai.usage import RequestUsage

if TYPE_CHECKING:  # the SDK path is imported on first need (it takes ~1 s to import)
    from openai import AsyncOpenAI
    from pydantic_ai.models.openai import OpenAIChatModel

_SETTINGS = {
    "max_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "parallel_tool_calls": "parallel_tool_calls",
    "stop_sequences": "stop",
}
_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_call"}


class NotPlain(Exception):
    """The request needs more than the plain path maps; pydantic-ai's model takes it."""


class OpenAIWireModel(Model):
    """An OpenAI chat-completions model: plain requests over httpx, the rest via the SDK."""

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str,
        api_key: str,
        timeout_seconds: float,
        ssl_context: ssl.SSLContext,
        sdk_client: Callable[[], AsyncOpenAI],
    ) -> None:
        super().__init__()
        self._model_name = model_name
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"authorization": f"Bearer {api_key}", "content-type": "application/json"}
        self._http = httpx.AsyncClient(timeout=timeout_seconds, verify=ssl_context)
        self._sdk_client = sdk_client
        self._sdk: AsyncOpenAI | None = None
        self._sdk_model: OpenAIChatModel | None = None

    @property
    def model_name(self) -> str:
        """The provider's model name."""
        return self._model_name

    @property
    def system(self) -> str:
        """The provider family, for pydantic-ai."""
        return "openai"

    async def aclose(self) -> None:
        """Close the HTTP clients (ours, and the SDK's if one was built)."""
        await self._http.aclose()
        if self._sdk is not None:
            await self._sdk.close()

    def sdk_model(self) -> OpenAIChatModel:
        """pydantic-ai's own model on the official SDK (retries off), built on first need."""
        if self._sdk_model is None:
            from pydantic_ai.models.openai import OpenAIChatModel
            from pydantic_ai.providers.openai import OpenAIProvider

            self._sdk = self._sdk_client()
            provider = OpenAIProvider(openai_client=self._sdk)
            self._sdk_model = OpenAIChatModel(self._model_name, provider=provider)
        return self._sdk_model

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        """One chat completion."""
        # Resolves `auto` output modes (pydantic-ai's structured output) to this profile's own.
        model_settings, model_request_parameters = self.prepare_request(
            model_settings, model_request_parameters
        )
        try:
            body = self._body(messages, model_settings, model_request_parameters)
        except NotPlain:
            return await self.sdk_model().request(
                messages, model_settings, model_request_parameters
            )
        try:
            reply = await self._http.post(
                self._url, content=orjson.dumps(body), headers=self._headers
            )
        except httpx.TimeoutException as exc:
            raise ModelTimeoutError(self._model_name, f"timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise ModelConnectionError(self._model_name, f"connection failed: {exc!r}") from exc
        if reply.status_code >= 400:
            raise ModelHTTPError(
                reply.status_code, self._model_name, _error_body(reply), headers=reply.headers
            )
        return self._response(orjson.loads(reply.content))

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        """A streamed chat completion, through pydantic-ai's SDK model."""
        async with self.sdk_model().request_stream(
            messages, model_settings, model_request_parameters, run_context
        ) as stream:
            yield stream

    def _body(
        self,
        messages: list[ModelMessage],
        settings: ModelSettings | None,
        params: ModelRequestParameters,
    ) -> dict[str, Any]:
        if params.output_mode not in ("text", "tool") or params.native_tools:
            raise NotPlain
        mapped = _messages(messages)
        instructions = self._get_instruction_parts(messages, params)
        if instructions:
            leading = next((i for i, m in enumerate(mapped) if m["role"] != "system"), len(mapped))
            mapped[leading:leading] = [
                {"role": "system", "content": p.content} for p in instructions
            ]
        body: dict[str, Any] = {"model": self._model_name, "messages": mapped}
        tools = [*params.function_tools, *params.output_tools]
        if tools:
            body["tools"] = [_tool(tool) for tool in tools]
            if not params.allow_text_output:
                body["tool_choice"] = "required"
        for key, value in (settings or {}).items():
            if key in _SETTINGS:
                body[_SETTINGS[key]] = value
            elif key not in ("timeout",):
                raise NotPlain
        return body

    def _response(self, data: dict[str, Any]) -> ModelResponse:
        choice = data["choices"][0]
        message = choice.get("message") or {}
        parts: list[ModelResponsePart] = []
        if message.get("content"):
            parts.append(TextPart(content=message["content"]))
        for call in message.get("tool_calls") or []:
            function = call["function"]
            parts.append(
                ToolCallPart(
                    tool_name=function["name"],
                    args=function.get("arguments") or "{}",
                    tool_call_id=call.get("id") or "",
                )
            )
        usage = data.get("usage") or {}
        return ModelResponse(
            parts=parts,
            usage=RequestUsage(
                input_tokens=usage.get("prompt_tokens", 0),
                output_tokens=usage.get("completion_tokens", 0),
            ),
            model_name=data.get("model", self._model_name),
            provider_name="openai",
            provider_response_id=data.get("id"),
            finish_reason=_FINISH.get(choice.get("finish_reason") or "stop", "stop"),  # type: ignore[arg-type]
        )


def _error_body(reply: httpx.Response) -> object:
    try:
        return orjson.loads(reply.content)
    except orjson.JSONDecodeError:
        return reply.text[:2000]


def _tool(tool: ToolDefinition) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters_json_schema}
    if tool.description:
        function["description"] = tool.description
    if tool.strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def _messages(messages: list[ModelMessage]) -> list[dict[str, Any]]:
    mapped: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            mapped.extend(_request_parts(message))
        else:
            mapped.append(_assistant(message))
    return mapped


def _request_parts(message: ModelRequest) -> list[dict[str, Any]]:
    mapped: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, SystemPromptPart):
            mapped.append({"role": "system", "content": part.content})
        elif isinstance(part, UserPromptPart):
            if not isinstance(part.content, str):
                raise NotPlain
            mapped.append({"role": "user", "content": part.content})
        elif isinstance(part, ToolReturnPart):
            mapped.append(
                {
                    "role": "tool",
                    "tool_call_id": part.tool_call_id,
                    "content": part.model_response_str(),
                }
            )
        elif isinstance(part, RetryPromptPart):
            if part.tool_name is None:
                mapped.append({"role": "user", "content": part.model_response()})
            else:
                mapped.append(
                    {
                        "role": "tool",
                        "tool_call_id": part.tool_call_id,
                        "content": part.model_response(),
                    }
                )
        else:
            raise NotPlain
    return mapped


def _assistant(message: ModelResponse) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            texts.append(part.content)
        elif isinstance(part, ToolCallPart):
            calls.append(
                {
                    "id": part.tool_call_id,
                    "type": "function",
                    "function": {"name": part.tool_name, "arguments": part.args_as_json_str()},
                }
            )
        else:
            raise NotPlain
    mapped: dict[str, Any] = {"role": "assistant", "content": "\n\n".join(texts) or None}
    if calls:
        mapped["tool_calls"] = calls
    return mapped
