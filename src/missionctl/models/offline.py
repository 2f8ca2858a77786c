"""The built-in offline model: a deterministic pydantic-ai `Model` that needs no key and no network.

It speaks the same tool-calling protocol as a hosted model, so a goal flows through the platform
the same way; only the thinking is simpler (`offline_text`, `offline_intents`, `offline_schema`).

How to prompt it:

- Intent. A line `Mode: plan|write|review|summarise|answer` in the instructions or a system prompt
  wins. Otherwise keywords in the instructions and the latest user prompt decide, first match in
  this order: plan ("plan", "planning", "decompose", "break down", "subtask"), review ("review"),
  summarise ("summar..."), write ("write", "draft", "document", "report"); else answer.
- Input: the latest user prompt. plan: the whole prompt is the goal. write: the first line is the
  title (a leading `#`, `Title:` or `Task:` is dropped) and the rest the description, up to a line
  `Thread:` (or `--- thread ---`) after which each non-empty line is one thread message. review: a
  line `Work:` (or `--- work ---`) separates the task before it (first line title, rest
  description) from the work after it (text after `Work:` on the same line counts); without the
  marker the whole prompt is the work and the task is empty. summarise: the text after a `Text:`
  line, else the whole prompt. The first UUID in the prompt fills `task_id`/`parent_id` arguments.
- Tools. plan calls the first tool whose name contains `create_task`, `subtask` or `plan`: once
  with the whole list if it has an array property named like `subtasks`/`tasks`/`steps`, else
  once per subtask, all in one response (`depends_on` items are step indices, or step titles for
  string items). write calls a tool named like `document`, review one like `review`, summarise one
  like `summar`. Arguments follow the tool's JSON schema (see `offline_schema`). Once the tool has
  answered it replies with a short report of the results; a call answered with a retry is made once
  more, with every property filled, and a tool that still fails is reported as failed.
- Output. With output tools (an agent's `output_type`) it finishes by calling the first one; in
  native or prompted output mode it replies with JSON for the output schema; otherwise with text:
  a numbered plan, the markdown document, `APPROVED: ...` or `CHANGES REQUESTED:` and `- ` bullets,
  the summary, or an answer starting "Offline model:".

Usage is `tokens.estimate_tokens` of all message text in, and of the reply out; tool call ids are
hashes of the prompt and attempt, so the same messages always get the same response.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ModelResponsePart,
    ModelResponseStreamEvent,
    RetryFeedbackPart,
    RetryPromptPart,
    SystemPromptPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.profiles import ModelProfile
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.usage import RequestUsage

from missionctl.models.offline_intents import Intent, Work, detect_intent, do_work
from missionctl.models.offline_schema import build_arguments, takes_list_of
from missionctl.models.offline_text import shorten
from missionctl.models.tokens import estimate_tokens

OFFLINE_MODEL_NAME = "offline"
OFFLINE_LABEL = "offline model"
STREAM_CHUNK_CHARS = 24
MAX_TOOL_ATTEMPTS = 2
_TOOL_HINTS = {
    Intent.PLAN: ("create_task", "subtask", "plan"),
    Intent.WRITE: ("document",),
    Intent.REVIEW: ("review",),
    Intent.SUMMARISE: ("summar",),
}
# Retry feedback reaches the model as user text; it is not a new prompt to act on.
_FEEDBACK_PREFIXES = ("Your previous response failed", "<pyai:", "<system>")


def is_offline(model_name: str) -> bool:
    """Whether `model_name` names the built-in offline model."""
    name = model_name.strip().casefold()
    return name in (OFFLINE_MODEL_NAME, OFFLINE_LABEL) or name.startswith(f"{OFFLINE_MODEL_NAME}:")


class OfflineModel(Model):
    """The built-in model: deterministic, offline, and fluent in pydantic-ai's tool protocol."""

    def __init__(self, *, settings: ModelSettings | None = None) -> None:
        """An offline model; it reads JSON schemas, so every structured output mode works."""
        profile = ModelProfile(supports_json_schema_output=True, supports_json_object_output=True)
        super().__init__(settings=settings, profile=profile)

    @property
    def model_name(self) -> str:
        """The model name, `offline`."""
        return OFFLINE_MODEL_NAME

    @property
    def system(self) -> str:
        """The provider name, `offline`."""
        return OFFLINE_MODEL_NAME

    @property
    def label(self) -> str:
        """The name people see."""
        return OFFLINE_LABEL

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        """Answer `messages` deterministically."""
        _, params = self.prepare_request(model_settings, model_request_parameters)
        return _response(messages, params)

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncGenerator[StreamedResponse]:
        """The same answer as `request`, streamed in small pieces."""
        _, params = self.prepare_request(model_settings, model_request_parameters)
        response = _response(messages, params)
        yield OfflineStreamedResponse(model_request_parameters=params, _response=response)


@dataclass
class OfflineStreamedResponse(StreamedResponse):
    """Streams a finished offline response: text a few words at a time, tool arguments in halves."""

    _response: ModelResponse = field(kw_only=True)

    def __post_init__(self) -> None:
        self._usage = RequestUsage(input_tokens=self._response.usage.input_tokens)

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        manager = self._parts_manager
        for index, part in enumerate(self._response.parts):
            if isinstance(part, TextPart):
                for chunk in _chunks(part.content):
                    for event in manager.handle_text_delta(vendor_part_id=index, content=chunk):
                        yield event
            elif isinstance(part, ToolCallPart):
                args = part.args_as_json_str()
                halves = (args[: len(args) // 2], args[len(args) // 2 :])
                for event in manager.handle_tool_call_delta_events(
                    vendor_part_id=index,
                    tool_name=part.tool_name,
                    args=halves[0],
                    tool_call_id=part.tool_call_id,
                ):
                    yield event
                for event in manager.handle_tool_call_delta_events(
                    vendor_part_id=index, args=halves[1]
                ):
                    yield event
        # Output tokens land whole at the end, so a stream reports what a plain request does.
        self._usage = self._response.usage

    async def close_stream(self) -> None:
        """Nothing to close: the response was complete before streaming began."""

    @property
    def model_name(self) -> str:
        """The model name, `offline`."""
        return OFFLINE_MODEL_NAME

    @property
    def provider_name(self) -> str:
        """The provider name, `offline`."""
        return OFFLINE_MODEL_NAME

    @property
    def provider_url(self) -> None:
        """No URL: nothing leaves the process."""
        return None

    @property
    def timestamp(self) -> datetime:
        """When the response was made."""
        return self._response.timestamp


def _chunks(content: str) -> list[str]:
    chunks: list[str] = []
    for token in re.findall(r"\s*\S+\s*|\s+", content):
        if chunks and len(chunks[-1]) < STREAM_CHUNK_CHARS:
            chunks[-1] += token
        else:
            chunks.append(token)
    return chunks


@dataclass(frozen=True, slots=True)
class _ToolResult:
    tool_name: str
    slot: str  # which call of a batch it answers, so a retried call keeps its place
    is_ok: bool
    is_retry: bool
    summary: str


@dataclass(frozen=True, slots=True)
class _Turn:
    """What the conversation says about the current request."""

    instructions: str
    prompt: str
    prompt_at: int
    called: tuple[frozenset[str], ...]  # tool names called by each response since the prompt
    results: tuple[_ToolResult, ...]
    latest_results: tuple[_ToolResult, ...]

    def attempts(self, tool_name: str) -> int:
        """How many responses since the prompt called `tool_name`."""
        return sum(tool_name in names for names in self.called)


def _read_turn(messages: Sequence[ModelMessage], params: ModelRequestParameters) -> _Turn:
    prompt_at, prompt = _latest_prompt(messages)
    system = [
        part.content
        for message in messages[: prompt_at + 1]
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, SystemPromptPart)
    ]
    later = messages[prompt_at + 1 :]
    requests = [m for m in later if isinstance(m, ModelRequest)]
    return _Turn(
        instructions="\n".join([*_instructions(messages, params), *system]),
        prompt=prompt,
        prompt_at=prompt_at,
        called=tuple(
            frozenset(p.tool_name for p in m.parts if isinstance(p, ToolCallPart))
            for m in later
            if isinstance(m, ModelResponse)
        ),
        results=tuple(result for request in requests for result in _results(request)),
        latest_results=tuple(_results(requests[-1])) if requests else (),
    )


def _instructions(messages: Sequence[ModelMessage], params: ModelRequestParameters) -> list[str]:
    if params.instruction_parts is not None:
        return [part.content for part in params.instruction_parts]
    # A direct `request()` call carries its instructions on the messages instead.
    found = [m.instructions for m in messages if isinstance(m, ModelRequest) and m.instructions]
    return found[-1:]


def _latest_prompt(messages: Sequence[ModelMessage]) -> tuple[int, str]:
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, ModelRequest):
            prompts = [_user_text(p) for p in message.parts if isinstance(p, UserPromptPart)]
            prompts = [p for p in prompts if not p.lstrip().startswith(_FEEDBACK_PREFIXES)]
            if prompts:
                return index, "\n\n".join(prompts)
    return -1, ""


def _user_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    return "\n".join(
        item if isinstance(item, str) else item.content
        for item in part.content
        if isinstance(item, str | TextContent)
    )


def _results(request: ModelRequest) -> list[_ToolResult]:
    results: list[_ToolResult] = []
    for part in request.parts:
        if isinstance(part, ToolReturnPart):
            text = shorten(part.model_response_str(), 120)
            is_retry = part.outcome == "retried"
            result = _ToolResult(
                part.tool_name, _slot(part.tool_call_id), part.outcome == "success", is_retry, text
            )
            results.append(result)
        elif isinstance(part, RetryPromptPart) and part.tool_name is not None:
            text = shorten(str(part.content), 120)
            results.append(_ToolResult(part.tool_name, _slot(part.tool_call_id), False, True, text))
    return results


def _slot(tool_call_id: str) -> str:
    return tool_call_id.rsplit("_", 1)[-1] if tool_call_id.startswith("offline_") else tool_call_id


def _response(messages: Sequence[ModelMessage], params: ModelRequestParameters) -> ModelResponse:
    parts = _respond(messages, params)
    reply = "\n".join(
        part.content
        if isinstance(part, TextPart)
        else f"{part.tool_name} {part.args_as_json_str()}"
        for part in parts
        if isinstance(part, TextPart | ToolCallPart)
    )
    usage = RequestUsage(
        input_tokens=estimate_tokens("\n".join(_message_texts(messages, params))),
        output_tokens=estimate_tokens(reply),
    )
    has_calls = any(isinstance(part, ToolCallPart) for part in parts)
    return ModelResponse(
        parts=parts,
        usage=usage,
        model_name=OFFLINE_MODEL_NAME,
        provider_name=OFFLINE_MODEL_NAME,
        finish_reason="tool_call" if has_calls else "stop",
    )


def _respond(
    messages: Sequence[ModelMessage], params: ModelRequestParameters
) -> list[ModelResponsePart]:
    turn = _read_turn(messages, params)
    intent = detect_intent(turn.instructions, turn.prompt)
    work = do_work(intent, turn.prompt)
    tool = _fitting_tool(intent, params)
    if tool is None:
        return [_finish(work.reply, work, params, turn)]
    attempts = turn.attempts(tool.name)
    if not attempts:
        return list(_tool_calls(tool, work, turn, attempts, None))
    retried = {r.slot for r in turn.latest_results if r.tool_name == tool.name and r.is_retry}
    if retried and attempts < MAX_TOOL_ATTEMPTS:
        return list(_tool_calls(tool, work, turn, attempts, retried))
    final = {r.slot: r for r in turn.results if r.tool_name == tool.name}
    return [_finish(_report(work, tool.name, list(final.values())), work, params, turn)]


def _fitting_tool(intent: Intent, params: ModelRequestParameters) -> ToolDefinition | None:
    tools = [t for t in params.function_tools if params.visibility_of(t.name) != "withheld"]
    for hint in _TOOL_HINTS.get(intent, ()):
        for tool in tools:
            if hint in tool.name.casefold():
                return tool
    return None


def _tool_calls(
    tool: ToolDefinition, work: Work, turn: _Turn, attempt: int, only: set[str] | None
) -> list[ToolCallPart]:
    schema = tool.parameters_json_schema
    one_by_one = bool(work.items) and not takes_list_of(schema, "subtasks")
    batches = list(work.items) if one_by_one else [work.facts]
    return [
        ToolCallPart(
            tool.name,
            build_arguments(schema, facts, fill_all=attempt > 0),
            tool_call_id=_call_id(turn, tool.name, attempt, index),
        )
        for index, facts in enumerate(batches)
        if only is None or str(index) in only
    ]


def _call_id(turn: _Turn, tool_name: str, attempt: int, index: int) -> str:
    key = f"{turn.prompt_at}\x00{turn.prompt}\x00{tool_name}\x00{attempt}"
    return f"offline_{hashlib.sha256(key.encode()).hexdigest()[:16]}_{index}"


def _report(work: Work, tool_name: str, results: list[_ToolResult]) -> str:
    failed = [r for r in results if not r.is_ok]
    if failed:
        return (
            f"Offline model: the {tool_name} tool failed ({len(failed)} of {len(results)} "
            f"calls): {failed[0].summary}"
        )
    outcomes = "; ".join(r.summary for r in results[:8]) or "no results"
    return f"{work.headline} with {tool_name} ({len(results)} calls). Results: {outcomes}"


def _finish(
    reply: str, work: Work, params: ModelRequestParameters, turn: _Turn
) -> ModelResponsePart:
    facts = {"answer": reply, **work.facts}
    if params.output_tools:
        tool = params.output_tools[0]
        attempt = turn.attempts(tool.name)
        args = build_arguments(tool.parameters_json_schema, facts, fill_all=attempt > 0)
        return ToolCallPart(tool.name, args, tool_call_id=_call_id(turn, tool.name, attempt, 0))
    if params.output_mode in ("native", "prompted") and params.output_object is not None:
        return TextPart(json.dumps(build_arguments(params.output_object.json_schema, facts)))
    return TextPart(reply)


def _message_texts(messages: Sequence[ModelMessage], params: ModelRequestParameters) -> list[str]:
    texts = _instructions(messages, params)
    for message in messages:
        if isinstance(message, ModelRequest):
            texts.extend(_request_part_text(part) for part in message.parts)
            continue
        for part in message.parts:
            if isinstance(part, TextPart | ThinkingPart):
                texts.append(part.content)
            elif isinstance(part, ToolCallPart):
                texts.append(f"{part.tool_name} {part.args_as_json_str()}")
    return [t for t in texts if t]


def _request_part_text(part: object) -> str:
    if isinstance(part, SystemPromptPart):
        return part.content
    if isinstance(part, UserPromptPart):
        return _user_text(part)
    if isinstance(part, ToolReturnPart):
        return part.model_response_str()
    if isinstance(part, RetryFeedbackPart):
        return part.model_response()
    if isinstance(part, RetryPromptPart):
        return str(part.content)
    return ""
