"""Wire formats for `fake_providers`: reading requests and writing responses and errors exactly
as the OpenAI Chat Completions, Anthropic Messages and Gemini APIs do (JSON bodies, SSE events).

Standalone (standard library and orjson only), importable by path like `fake_providers`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

_dumps = orjson.dumps


def blocks(content: Any) -> list[dict[str, Any]]:
    """The blocks (parts) of a list `content`; none for a string."""
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _text_of(content: Any) -> str:
    """The text in an OpenAI/Anthropic `content`: a string or a list of parts/blocks."""
    if isinstance(content, str):
        return content
    out = []
    for block in blocks(content):
        if isinstance(block.get("text"), str):
            out.append(block["text"])
        elif block.get("type") == "tool_result":
            out.append(_text_of(block.get("content")))
    return "".join(out)


def conversation(protocol: str, body: Any) -> tuple[int, str]:
    """(characters of all message text, text of the last user message that has text)."""
    if not isinstance(body, dict):
        return 0, ""
    total, last_user = 0, ""
    if protocol == "gemini":
        turns = [(c.get("role"), c.get("parts", [])) for c in body.get("contents", [])]
        system = body.get("systemInstruction") or {}
        turns.insert(0, ("system", system.get("parts", [])))
        for role, parts in turns:
            text = "".join(p["text"] for p in parts if isinstance(p.get("text"), str))
            total += len(text)
            if role == "user" and text:
                last_user = text
        return total, last_user
    total = len(_text_of(body.get("system")))
    for message in body.get("messages", []):
        text = _text_of(message.get("content"))
        total += len(text)
        if message.get("role") == "user":
            own = message.get("content")
            plain = (
                own
                if isinstance(own, str)
                else "".join(b["text"] for b in blocks(own) if isinstance(b.get("text"), str))
            )
            last_user = plain or last_user
    return total, last_user


def _pieces(text: str, count: int) -> list[str]:
    """`text` cut into at most `count` consecutive non-empty pieces."""
    if not text:
        return []
    size = max(1, math.ceil(len(text) / count))
    return [text[i : i + size] for i in range(0, len(text), size)]


class Call(NamedTuple):
    """A tool call to send: `arguments` is `args` as JSON; `explicit` if the script gave the id."""

    id: str
    name: str
    args: dict[str, Any]
    arguments: str
    explicit: bool


@dataclass
class Answer:
    """A reply resolved for one request: what to say and what it costs."""

    model: str
    rid: str
    text: str
    calls: list[Call]
    input_tokens: int
    output_tokens: int
    pieces: int  # streamed text comes in at most this many deltas


_OPENAI_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_GEMINI_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


Wire = tuple[int, bytes, dict[str, str]]  # status, JSON body, headers


def error(
    protocol: str, status: int, message: str | None = None, retry_after: float | None = None
) -> Wire:
    """An error as the protocol's real API sends it (body shape, type names, retry hint)."""
    message = message or f"fake error {status}"
    headers: dict[str, str] = {}
    if retry_after is not None and protocol != "gemini":
        headers["retry-after"] = str(math.ceil(retry_after))
        if retry_after != int(retry_after):
            headers["retry-after-ms"] = str(int(retry_after * 1000))
    if protocol == "openai":
        kind, code = _OPENAI_ERRORS.get(status, ("server_error" if status >= 500 else "", None))
        error: dict[str, Any] = {"message": message, "type": kind or "invalid_request_error"}
        return status, _dumps({"error": error | {"param": None, "code": code}}), headers
    if protocol == "anthropic":
        kind = _ANTHROPIC_ERRORS.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        body = {"type": "error", "error": {"type": kind, "message": message}}
        return status, _dumps(body | {"request_id": "req_fake"}), headers
    details: list[dict[str, Any]] = []
    if retry_after is not None:
        retry = {
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": f"{retry_after:g}s",
        }
        details.append(retry)
    status_name = _GEMINI_STATUSES.get(status, "UNKNOWN")
    fields: dict[str, Any] = {"code": status, "message": message, "status": status_name}
    return status, _dumps({"error": fields | {"details": details}}), headers


def gemini_bad_key() -> Wire:
    """What Gemini answers a wrong API key with (400, reason API_KEY_INVALID)."""
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
    info["domain"] = "googleapis.com"
    message = "API key not valid. Please pass a valid API key."
    error = {"code": 400, "message": message, "status": "INVALID_ARGUMENT", "details": [info]}
    return 400, _dumps({"error": error}), {}


def _sse(data: Any, event: bytes | None = None) -> bytes:
    head = b"event: " + event + b"\n" if event else b""
    return head + b"data: " + _dumps(data) + b"\n\n"


def openai_body(a: Answer, stream: bool, include_usage: bool) -> tuple[list[bytes], int]:
    """The completion (one JSON body) or its chunks (SSE events) and how many go before a break."""
    created = int(time.time())
    usage = {"prompt_tokens": a.input_tokens, "completion_tokens": a.output_tokens}
    usage["total_tokens"] = a.input_tokens + a.output_tokens
    finish = "tool_calls" if a.calls else "stop"
    head = {"id": f"chatcmpl-{a.rid}", "created": created, "model": a.model}
    if not stream:
        message: dict[str, Any] = {"role": "assistant", "content": a.text or None, "refusal": None}
        if a.calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in a.calls
            ]
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        body = head | {"object": "chat.completion", "choices": [choice], "usage": usage}
        return [_dumps(body | {"system_fingerprint": None})], 0
    head |= {"object": "chat.completion.chunk", "system_fingerprint": None}
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return _sse(head | {"choices": [choice]} | extra)

    out = [chunk({"role": "assistant", "content": "", "refusal": None})]
    out += [chunk({"content": piece}) for piece in _pieces(a.text, a.pieces)]
    for index, call in enumerate(a.calls):
        function = {"name": call.name, "arguments": ""}
        out.append(
            chunk(
                {
                    "tool_calls": [
                        {"index": index, "id": call.id, "type": "function"} | {"function": function}
                    ]
                }
            )
        )
        for piece in _pieces(call.arguments, 2):
            out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    out.append(chunk({}, finish))
    if include_usage:
        out.append(_sse(head | {"choices": [], "usage": usage}))
    return [*out, b"data: [DONE]\n\n"], 2


def anthropic_body(a: Answer, stream: bool) -> tuple[list[bytes], int]:
    usage = {"input_tokens": a.input_tokens, "output_tokens": a.output_tokens}
    usage |= {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    stop = "tool_use" if a.calls else "end_turn"
    blocks: list[dict[str, Any]] = [{"type": "text", "text": a.text}] if a.text else []
    blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.args} for c in a.calls]
    message: dict[str, Any] = {"id": f"msg_{a.rid}", "type": "message", "role": "assistant"}
    message["model"] = a.model
    if not stream:
        body = message | {"content": blocks, "stop_reason": stop, "stop_sequence": None}
        return [_dumps(body | {"usage": usage})], 0
    start = message | {"content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = usage | {"output_tokens": 1}
    out = [_sse({"type": "message_start", "message": start}, b"message_start")]
    first_call = len(blocks) - len(a.calls)
    for index, block in enumerate(blocks):
        empty = {"type": "text", "text": ""} if block["type"] == "text" else block | {"input": {}}
        event = {"type": "content_block_start", "index": index, "content_block": empty}
        out.append(_sse(event, b"content_block_start"))
        if block["type"] == "text":
            deltas = [{"type": "text_delta", "text": p} for p in _pieces(a.text, a.pieces)]
        else:
            args = a.calls[index - first_call].arguments
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in _pieces(args, 2)]
        for delta in deltas:
            event = {"type": "content_block_delta", "index": index, "delta": delta}
            out.append(_sse(event, b"content_block_delta"))
        out.append(_sse({"type": "content_block_stop", "index": index}, b"content_block_stop"))
    end: dict[str, Any] = {"type": "message_delta", "usage": usage}
    end["delta"] = {"stop_reason": stop, "stop_sequence": None}
    out.append(_sse(end, b"message_delta"))
    return [*out, _sse({"type": "message_stop"}, b"message_stop")], 3


def gemini_body(a: Answer, stream: bool, sse: bool) -> tuple[list[bytes], int]:
    usage = {"promptTokenCount": a.input_tokens, "candidatesTokenCount": a.output_tokens}
    usage["totalTokenCount"] = a.input_tokens + a.output_tokens
    call_parts = [
        {"functionCall": {"name": c.name, "args": c.args} | ({"id": c.id} if c.explicit else {})}
        for c in a.calls
    ]
    head = {"modelVersion": a.model, "responseId": f"fake-{a.rid}"}
    if not stream:
        parts = ([{"text": a.text}] if a.text else []) + call_parts
        whole = {"content": {"parts": parts, "role": "model"}, "finishReason": "STOP", "index": 0}
        return [_dumps({"candidates": [whole], "usageMetadata": usage} | head)], 0
    chunks: list[list[dict[str, Any]]] = [[{"text": p}] for p in _pieces(a.text, a.pieces)]
    if call_parts or not chunks:
        chunks.append(call_parts)
    prompt_only = {"promptTokenCount": a.input_tokens, "totalTokenCount": a.input_tokens}
    bodies = []
    for index, parts in enumerate(chunks):
        last = index == len(chunks) - 1
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if last:
            candidate["finishReason"] = "STOP"
        bodies.append(
            {"candidates": [candidate], "usageMetadata": usage if last else prompt_only} | head
        )
    if not sse:  # without alt=sse Gemini streams one JSON array
        return [_dumps(bodies)], 0
    return [_sse(body) for body in bodies], 1
