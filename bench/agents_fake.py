"""A slow model on 127.0.0.1: OpenAI chat completions answered by the offline model, 200 ms each.

Run as a process of its own by bench/agents.py (`python bench/agents_fake.py LATENCY_SECONDS`):
it serves `POST /v1/chat/completions` (JSON, no streaming) and `GET /stats` on a free port of
127.0.0.1, prints one line `@@ {"base_url": ...}` when it listens, and runs until stdin closes.

Each request is read back into pydantic-ai messages and request parameters (system and user
messages, assistant text and tool calls, tool results; tools named `final_result...` are
pydantic-ai's output tools, the rest function tools; `tool_choice: required` means no text
output), answered by `missionctl.models.offline.OfflineModel` — so agents behave exactly as on
the built-in model — and sent back exactly LATENCY_SECONDS after it arrived (the offline model's
own few milliseconds of work included). `/stats` reports how long each request stayed in the
server, so the bench can check that the latency held under load.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
import uuid
from typing import Any

import orjson
import uvicorn
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    ModelResponsePart,
    RetryPromptPart,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.tools import ToolDefinition
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from missionctl.models.offline import OfflineModel

MARK = "@@ "
API_KEY = "sk-bench-agents"
OUTPUT_TOOL_PREFIX = "final_result"  # pydantic-ai names its output tools so
RETRY_SUFFIX = "Fix the errors and try again."  # how pydantic-ai ends a tool's retry prompt


def to_pydantic_ai(body: dict[str, Any]) -> tuple[list[ModelMessage], ModelRequestParameters]:
    """An OpenAI chat-completions body as the messages and parameters pydantic-ai had sent."""
    messages: list[ModelMessage] = []
    parts: list[ModelRequestPart] = []
    tool_names: dict[str, str] = {}
    for message in body.get("messages", []):
        role, content = message["role"], message.get("content") or ""
        if role == "assistant":
            if parts:
                messages.append(ModelRequest(parts=parts))
                parts = []
            answer: list[ModelResponsePart] = [TextPart(content)] if content else []
            for call in message.get("tool_calls") or []:
                name = call["function"]["name"]
                tool_names[call["id"]] = name
                answer.append(ToolCallPart(name, call["function"]["arguments"], call["id"]))
            messages.append(ModelResponse(parts=answer))
        elif role == "system":
            parts.append(SystemPromptPart(content))
        elif role == "user":
            parts.append(UserPromptPart(content))
        elif role == "tool":
            call_id = message["tool_call_id"]
            name = tool_names.get(call_id, "")
            if content.endswith(RETRY_SUFFIX):
                parts.append(RetryPromptPart(content, tool_name=name, tool_call_id=call_id))
            else:
                parts.append(ToolReturnPart(name, content, tool_call_id=call_id))
    if parts:
        messages.append(ModelRequest(parts=parts))
    tools = [
        ToolDefinition(
            name=tool["function"]["name"],
            parameters_json_schema=tool["function"].get("parameters") or {},
            description=tool["function"].get("description"),
        )
        for tool in body.get("tools") or []
    ]
    output = [t for t in tools if t.name.startswith(OUTPUT_TOOL_PREFIX)]
    params = ModelRequestParameters(
        function_tools=[t for t in tools if not t.name.startswith(OUTPUT_TOOL_PREFIX)],
        output_tools=output,
        output_mode="tool" if output else "text",
        allow_text_output=body.get("tool_choice") != "required",
    )
    return messages, params


def to_openai(response: ModelResponse, model: str) -> dict[str, Any]:
    """A pydantic-ai response as an OpenAI chat completion."""
    texts = [part.content for part in response.parts if isinstance(part, TextPart)]
    calls = [
        {
            "id": part.tool_call_id,
            "type": "function",
            "function": {"name": part.tool_name, "arguments": part.args_as_json_str()},
        }
        for part in response.parts
        if isinstance(part, ToolCallPart)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": "\n\n".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    usage = response.usage
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
        ],
        "usage": {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
        },
    }


class SlowOffline:
    """The app: the offline model's answer, sent `latency` seconds after the request arrived."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.model = OfflineModel()
        self.service_seconds: list[float] = []
        self.work_seconds: list[float] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def completions(self, request: Request) -> Response:
        """`POST /v1/chat/completions`."""
        arrived = time.monotonic()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if request.headers.get("authorization") != f"Bearer {API_KEY}":
                return Response(b'{"error":{"message":"bad key"}}', 401)
            body = orjson.loads(await request.body())
            messages, params = to_pydantic_ai(body)
            response = await self.model.request(messages, None, params)
            content = orjson.dumps(to_openai(response, body.get("model", "offline")))
            self.work_seconds.append(time.monotonic() - arrived)
            await asyncio.sleep(max(0.0, arrived + self.latency - time.monotonic()))
            self.service_seconds.append(time.monotonic() - arrived)
            return Response(content, 200, media_type="application/json")
        finally:
            self.in_flight -= 1

    async def stats(self, _request: Request) -> Response:
        """`GET /stats`: the service times so far (and `?reset=1` starts over)."""
        answer = {
            "requests": len(self.service_seconds),
            "service_seconds": self.service_seconds,
            "work_seconds": self.work_seconds,
            "max_in_flight": self.max_in_flight,
        }
        if _request.query_params.get("reset"):
            self.service_seconds, self.work_seconds, self.max_in_flight = [], [], 0
        return Response(orjson.dumps(answer), 200, media_type="application/json")


def main() -> None:
    """Serve until stdin closes."""
    latency = float(sys.argv[1]) if len(sys.argv) > 1 else 0.2
    app = SlowOffline(latency)
    routes = [
        Route("/v1/chat/completions", app.completions, methods=["POST"]),
        Route("/stats", app.stats, methods=["GET"]),
    ]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Keep-alive as long as the hosted APIs do: with uvicorn's 5 s a client may reuse a
    # connection the server is just closing, a failure of the fake's, not of the platform.
    config = uvicorn.Config(
        Starlette(routes=routes),
        log_level="warning",
        lifespan="off",
        backlog=256,
        timeout_keep_alive=120,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    print(MARK + json.dumps({"base_url": f"http://127.0.0.1:{port}/v1"}), flush=True)
    sys.stdin.read()  # until the bench closes our stdin (or exits)
    server.should_exit = True
    thread.join(timeout=10)


if __name__ == "__main__":
    main()
