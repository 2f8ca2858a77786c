"""Fake LLM provider servers that speak the real OpenAI, Anthropic and Gemini HTTP wire protocols.

One `FakeProvider` runs one Starlette app under uvicorn, in a daemon thread, on a free 127.0.0.1
port, serving:

- OpenAI Chat Completions: `POST /v1/chat/completions` (JSON or SSE), `GET /v1/models`.
- Anthropic Messages: `POST /v1/messages` (JSON or SSE), `GET /v1/models` (told apart from OpenAI's
  by the `anthropic-version` header). The key may come as `x-api-key` or `Authorization: Bearer`
  (the anthropic 2.x SDK sends the latter).
- Gemini: `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`,
  `GET /v1beta/models`.

By default every generation answers `"fake reply to: <last user text>"`, with prompt tokens
ceil(characters of all message text / 4) and completion tokens ceil(characters of the reply / 4),
at least 1. `script()` queues other answers (shared by the three protocols, first in first out):
`Reply` (text, tool calls, usage, delay, a stream that breaks), `ToolCall` and `Failure`.

Standalone: imports only the standard library, starlette, uvicorn, orjson and its sibling
`fake_wire` (the encoders), so a benchmark can load it by path
(`sys.path.insert(0, "tests/models")`, `import fake_providers`) as well as the tests can import
`tests.models.fake_providers`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

try:
    from . import fake_wire as wire
except ImportError:  # loaded by path, outside the tests package
    import fake_wire as wire  # type: ignore[no-redef]

__all__ = [
    "Failure",
    "FakeProvider",
    "RecordedRequest",
    "Reply",
    "ToolCall",
    "Usage",
    "dead_url",
]

_dumps = orjson.dumps
_JSON = "application/json"


@dataclass(frozen=True)
class ToolCall:
    """A tool (function) call the model asks for; `id` is generated when not given."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Usage:
    """Token counts to report instead of the computed ones."""

    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Reply:
    """One scripted answer. No text and no tool calls means the default reply text."""

    text: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    usage: Usage | None = None
    delay: float = 0.0  # seconds to wait before answering
    break_stream: bool = False  # a stream drops the connection after its first content chunk
    chunk_delay: float = 0.0  # a stream waits this long after each event


@dataclass(frozen=True)
class Failure:
    """One scripted error response, shaped the way the protocol's real API shapes it."""

    status: int
    message: str | None = None
    retry_after: float | None = None  # seconds, sent as the protocol sends it
    delay: float = 0.0


ScriptItem = Reply | Failure | ToolCall | Sequence[ToolCall] | str


@dataclass
class RecordedRequest:
    """One request as the fake received it."""

    protocol: str  # "openai", "anthropic" or "gemini"
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: Any  # the parsed JSON body, None without one
    time: float  # time.monotonic() on arrival

    @property
    def api_key(self) -> str | None:
        """The key the client sent, where its protocol puts it."""
        auth = self.headers.get("authorization", "")
        bearer = auth[7:] if auth[:7].lower() == "bearer " else None
        if self.protocol == "anthropic":
            return self.headers.get("x-api-key", bearer)
        if self.protocol == "gemini":
            return self.headers.get("x-goog-api-key", self.query.get("key"))
        return bearer

    @property
    def model(self) -> str | None:
        if self.protocol == "gemini":
            return self.path.rsplit("/", 1)[-1].split(":", 1)[0] if ":" in self.path else None
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def stream(self) -> bool:
        if self.protocol == "gemini":
            return self.path.endswith(":streamGenerateContent")
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def tool_names(self) -> list[str]:
        """Names of the tools offered to the model."""
        tools = (self.body.get("tools") or []) if isinstance(self.body, dict) else []
        if self.protocol == "openai":
            return [t["function"]["name"] for t in tools if "function" in t]
        if self.protocol == "anthropic":
            return [t["name"] for t in tools if "name" in t]
        return [d["name"] for t in tools for d in t.get("functionDeclarations") or []]

    @property
    def tool_results(self) -> list[Any]:
        """Tool results sent back: OpenAI `tool` message contents, Anthropic `tool_result` blocks'
        contents, Gemini `functionResponse.response` objects, in order."""
        if not isinstance(self.body, dict):
            return []
        if self.protocol == "openai":
            return [m.get("content") for m in self.body.get("messages", []) if m["role"] == "tool"]
        if self.protocol == "anthropic":
            blocks = [
                b for m in self.body.get("messages", []) for b in wire.blocks(m.get("content"))
            ]
            return [b.get("content") for b in blocks if b.get("type") == "tool_result"]
        parts = [p for c in self.body.get("contents", []) for p in c.get("parts", [])]
        return [p["functionResponse"].get("response") for p in parts if "functionResponse" in p]


class _Stream(Response):
    """A streamed body; `cut` > 0 sends only the first `cut` events, then drops the connection;
    `gap` > 0 sends the events one at a time, that many seconds apart."""

    def __init__(self, events: list[bytes], cut: int, gap: float, media_type: str) -> None:
        self.events, self.cut, self.gap = events, cut, gap
        self.status_code, self.background = 200, None
        # No content-length: the body goes out chunked, as the real APIs stream it.
        content_type = f"{media_type}; charset=utf-8".encode()
        self.raw_headers = [(b"content-type", content_type), (b"cache-control", b"no-cache")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        if not self.cut and not self.gap:
            await send({"type": "http.response.body", "body": b"".join(self.events)})
            return
        for event in self.events[: self.cut] if self.cut else self.events:
            await send({"type": "http.response.body", "body": event, "more_body": True})
            await asyncio.sleep(self.gap)
        if not self.cut:
            await send({"type": "http.response.body", "body": b""})
            return
        # Close the socket under the response (uvicorn's send is a method of the request cycle,
        # which holds the transport); then wait for uvicorn to see the disconnect, so it
        # neither complains about an unfinished response nor logs a traceback.
        transport = getattr(getattr(scope.get("fake.send"), "__self__", None), "transport", None)
        if transport is None:
            raise ConnectionAbortedError("fake stream broken")
        transport.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(scope["fake.receive"](), 2)


def _wire(answer: wire.Wire) -> Response:
    status, body, headers = answer
    return Response(body, status, headers, media_type=_JSON)


def _json_response(data: Any) -> Response:
    return Response(_dumps(data), 200, media_type=_JSON)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


_dead_lock = threading.Lock()
_dead_sockets: list[socket.socket] = []


def dead_url() -> str:
    """A 127.0.0.1 URL where connections are refused: its port is bound (so no one else gets it)
    but never listened on, for the life of the process."""
    with _dead_lock:
        if not _dead_sockets:
            _dead_sockets.append(_free_socket())
        return f"http://127.0.0.1:{_dead_sockets[0].getsockname()[1]}"


class FakeProvider:
    """OpenAI, Anthropic and Gemini fakes on one local port; use as a context manager."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        latency_seconds: float = 0.0,
        models: Sequence[str] = ("fake-model",),
        stream_pieces: int = 3,
        record: bool = True,
    ) -> None:
        self.api_key = api_key  # when set, requests with another key get the protocol's auth error
        self.latency_seconds = latency_seconds  # added before every answer
        self.models = list(models)  # what the model-list endpoints return
        self.stream_pieces = stream_pieces  # text deltas per streamed reply (at most)
        self.record = record  # keep RecordedRequests (counting happens regardless)
        self._lock = threading.Lock()
        self._queue: deque[Reply | Failure] = deque()
        self._requests: list[RecordedRequest] = []
        self._count = 0
        self._failing: Failure | None = None
        self._ids = itertools.count(1)
        routes = [
            Route("/v1/chat/completions", self._openai, methods=["POST"]),
            Route("/v1/messages", self._anthropic, methods=["POST"]),
            Route("/v1/models", self._list_models, methods=["GET"]),
            Route("/v1beta/models", self._list_models, methods=["GET"]),
            *(
                Route(f"/{version}/models/{{target:path}}", self._gemini, methods=["POST"])
                for version in ("v1beta", "v1", "v1alpha")
            ),
        ]
        self._app = Starlette(routes=routes)
        self._socket = _free_socket()
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            self._asgi, interface="asgi3", log_level="warning", lifespan="off", ws="none",
            access_log=False, proxy_headers=False, server_header=False, timeout_graceful_shutdown=1,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    # Lifecycle and URLs

    def start(self) -> FakeProvider:
        """Start serving (once); returns self."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake provider did not start")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        """Stop serving; afterwards the port refuses connections."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.base_url

    @property
    def gemini_base_url(self) -> str:
        return self.base_url

    # Scripting

    def script(self, *items: ScriptItem) -> None:
        """Queue answers: Reply, Failure, a ToolCall, a list of parallel ToolCalls, or text."""
        queued: list[Reply | Failure] = []
        for item in items:
            if isinstance(item, str):
                queued.append(Reply(text=item))
            elif isinstance(item, ToolCall):
                queued.append(Reply(tool_calls=(item,)))
            elif isinstance(item, Reply | Failure):
                queued.append(item)
            else:
                queued.append(Reply(tool_calls=tuple(item)))
        with self._lock:
            self._queue.extend(queued)

    def fail_all(
        self, status: int, message: str | None = None, retry_after: float | None = None
    ) -> None:
        """Answer every request (model lists too) with this error until `reset()`."""
        with self._lock:
            self._failing = Failure(status, message, retry_after)

    def reset(self) -> None:
        """Forget the script, the fail-all mode and the recorded requests."""
        with self._lock:
            self._queue.clear()
            self._failing = None
            self._requests.clear()
            self._count = 0

    @property
    def pending(self) -> int:
        """Scripted answers not used yet."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the recorded requests, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        """Requests received (recorded or not) since start or `reset()`."""
        with self._lock:
            return self._count

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            return self._requests[-1]

    # Serving

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["fake.send"], scope["fake.receive"] = send, receive  # for _Stream's break
        await self._app(scope, receive, send)

    async def _begin(
        self, request: Request, protocol: str, generate: bool = True
    ) -> tuple[RecordedRequest, Reply | Response]:
        """Record the request; the scripted Reply to give, or the Response that ends it."""
        if self.latency_seconds:
            await asyncio.sleep(self.latency_seconds)
        raw = await request.body()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        scope = request.scope
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(request.query_params) if scope["query_string"] else {}
        record = RecordedRequest(
            protocol, scope["method"], scope["path"], query, headers, body, time.monotonic()
        )
        key = record.api_key
        bad_key = not key or (self.api_key is not None and key != self.api_key)
        bad_body = generate and not isinstance(body, dict)
        with self._lock:
            self._count += 1
            if self.record:
                self._requests.append(record)
            item: Reply | Failure | None = self._failing
            if item is None and generate and not (bad_key or bad_body) and self._queue:
                item = self._queue.popleft()
        if bad_key:
            if protocol == "gemini":  # Gemini: 403 without a key, 400 API_KEY_INVALID for a bad one
                return record, _wire(wire.gemini_bad_key() if key else wire.error(protocol, 403))
            message = "Incorrect API key provided" if key else "Missing API key"
            return record, _wire(wire.error(protocol, 401, message))
        if bad_body:
            return record, _wire(wire.error(protocol, 400, "the body must be a JSON object"))
        if item is not None and item.delay:
            await asyncio.sleep(item.delay)
        if isinstance(item, Failure):
            failure = wire.error(protocol, item.status, item.message, item.retry_after)
            return record, _wire(failure)
        return record, item or Reply()

    def _answer(self, record: RecordedRequest, reply: Reply, prefix: str) -> wire.Answer:
        chars, last_user = wire.conversation(record.protocol, record.body)
        text = reply.text or ""
        if reply.text is None and not reply.tool_calls:
            text = f"fake reply to: {last_user}"
        rid = f"{next(self._ids):08d}"
        calls = [
            wire.Call(
                c.id or f"{prefix}{rid}_{n}", c.name, c.args, _dumps(c.args).decode(), bool(c.id)
            )
            for n, c in enumerate(reply.tool_calls)
        ]
        if reply.usage is not None:
            tokens_in, tokens_out = reply.usage.input_tokens, reply.usage.output_tokens
        else:
            out_chars = len(text) + sum(len(c.name) + len(c.arguments) for c in calls)
            tokens_in, tokens_out = math.ceil(chars / 4), max(1, math.ceil(out_chars / 4))
        model = record.model or "fake-model"
        return wire.Answer(model, rid, text, calls, tokens_in, tokens_out, self.stream_pieces)

    @staticmethod
    def _respond(events: list[bytes], cut: int, stream: bool, reply: Reply, sse: bool) -> Response:
        if not stream:
            return Response(events[0], 200, media_type=_JSON)
        media_type = "text/event-stream" if sse else _JSON
        return _Stream(events, cut if reply.break_stream else 0, reply.chunk_delay, media_type)

    async def _openai(self, request: Request) -> Response:
        record, reply = await self._begin(request, "openai")
        if isinstance(reply, Response):
            return reply
        answer = self._answer(record, reply, "call_")
        options = record.body.get("stream_options") or {}
        events, cut = wire.openai_body(answer, record.stream, bool(options.get("include_usage")))
        return self._respond(events, cut, record.stream, reply, True)

    async def _anthropic(self, request: Request) -> Response:
        record, reply = await self._begin(request, "anthropic")
        if isinstance(reply, Response):
            return reply
        events, cut = wire.anthropic_body(self._answer(record, reply, "toolu_"), record.stream)
        return self._respond(events, cut, record.stream, reply, True)

    async def _gemini(self, request: Request) -> Response:
        action = request.path_params["target"].rpartition(":")[2]
        if action not in ("generateContent", "streamGenerateContent"):
            return _wire(wire.error("gemini", 404, f"unknown method {action}"))
        record, reply = await self._begin(request, "gemini")
        if isinstance(reply, Response):
            return reply
        sse = request.query_params.get("alt") == "sse"
        events, cut = wire.gemini_body(self._answer(record, reply, "call_"), record.stream, sse)
        return self._respond(events, cut, record.stream, reply, sse)

    async def _list_models(self, request: Request) -> Response:
        headers = request.headers
        if request.url.path.startswith("/v1beta"):
            protocol = "gemini"
        elif "anthropic-version" in headers or "x-api-key" in headers:
            protocol = "anthropic"
        else:
            protocol = "openai"
        _record, reply = await self._begin(request, protocol, generate=False)
        if isinstance(reply, Response):
            return reply
        if protocol == "openai":
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models
            ]
            return _json_response({"object": "list", "data": data})
        if protocol == "anthropic":
            created = "2025-01-01T00:00:00Z"
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": created}
                for m in self.models
            ]
            first, last = (self.models[0], self.models[-1]) if self.models else (None, None)
            page = {"has_more": False, "first_id": first, "last_id": last}
            return _json_response({"data": data} | page)
        methods = ["generateContent", "streamGenerateContent", "countTokens"]
        models = [
            {"name": f"models/{m}", "displayName": m, "supportedGenerationMethods": methods}
            for m in self.models
        ]
        return _json_response({"models": models})
