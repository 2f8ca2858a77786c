"""The processes of bench/models.py: the fake OpenAI server, and one contender per process.

`bench/models.py` starts this script once per contender (and once for the server) and drives
it over stdin/stdout, one JSON line each way, so every contender keeps its process, its
connections and its warm caches across the benchmark's rounds, and sits idle while the others
are timed. The top level imports only the standard library: the litellm contender runs it
with the interpreter of `.bench-venvs/litellm`, which has litellm (and its openai) but not
Mission Control.

Kinds (the first argument; the second is a JSON object of settings)
    serve           tests/models/fake_providers.py's FakeProvider (record=False), plus a dead
                    URL (a bound port nobody listens on); prints both, serves until stdin closes.
    httpx           the floor: httpx.AsyncClient POST of the JSON body, orjson-parsed reply.
    openai-sync     openai.OpenAI(max_retries=0).chat.completions.create(...).
    openai-async    the same with AsyncOpenAI.
    pydantic-ai     pydantic-ai's OpenAIChatModel.request on an AsyncOpenAI client.
    wire            the gateway's own OpenAI model (missionctl.models.openai_wire) alone: the
                    HTTP request as the gateway sends it, without routing, budgets or metering.
    litellm         litellm.completion(model="openai/gpt-4o-mini", api_base=..., api_key=...).
    gateway         Mission Control's Gateway.request on a database set up by bench/models.py.
    fallback        the gateway on a policy whose first deployment is dead (connection refused).

Commands (one JSON line on stdin; the answer is one line `@@ {json}` on stdout)
    {"op": "time", "calls": N, "warmup": W}  W untimed calls, then N timed ones: per-call
                                             nanoseconds and this process's CPU time.
    {"op": "profile", "calls": N, "path": P} N calls under cProfile, stats written to P.
    {"op": "fallback", "fresh": K, "steady": N}  (fallback only) see `Fallback.run`.
The process exits when stdin closes.

Run by bench/models.py; by hand e.g. `.venv/bin/python bench/models_calls.py openai-sync
'{"base_url": "http://127.0.0.1:PORT/v1", "api_key": "sk-bench"}'`.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODEL = "gpt-4o-mini"
PROMPT = "hello"
EXPECTED_REPLY = f"fake reply to: {PROMPT}"  # what the fake answers; checked on the first call
MARK = "@@ "  # prefixes the protocol's lines (libraries may print to stdout too)
INITIAL_WARMUP = 200


def say(payload: dict[str, Any]) -> None:
    """One protocol line to the driver."""
    sys.stdout.write(MARK + json.dumps(payload) + "\n")
    sys.stdout.flush()


def versions(*names: str) -> dict[str, str]:
    """Installed versions of these distributions (and Python's)."""
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


# --------------------------------------------------------------------------- the fake server


def serve(config: dict[str, Any]) -> None:
    """FakeProvider in this process until stdin closes (the driver's end of the pipe)."""
    sys.path.insert(0, str(ROOT / "tests" / "models"))
    import fake_providers

    provider = fake_providers.FakeProvider(
        api_key=config["api_key"], record=False, models=(MODEL,)
    ).start()
    say(
        {
            "openai_base_url": provider.openai_base_url,
            "dead_url": fake_providers.dead_url(),
            "versions": versions("uvicorn", "starlette", "orjson", "uvloop", "httptools"),
        }
    )
    try:
        sys.stdin.read()  # returns at EOF
    finally:
        provider.stop()


# --------------------------------------------------------------------------- contenders


class Contender:
    """Makes one call (sync or async) and says what it answered."""

    is_async = True
    packages: tuple[str, ...] = ()
    total_calls = 0

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()  # one loop for the life of the process

    def call(self) -> str:
        """One sync call's reply text (sync contenders)."""
        raise NotImplementedError

    async def acall(self) -> str:
        """One async call's reply text (async contenders)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release clients (async contenders close theirs on the loop)."""
        self.loop.run_until_complete(self.aclose())
        self.loop.close()

    async def aclose(self) -> None:
        """Close async clients."""

    def extra(self) -> dict[str, Any]:
        """Anything else this contender reports at the end of a command."""
        return {}

    # Running batches ------------------------------------------------------------------

    def first(self) -> str:
        """One untimed call; its reply text (checked by the caller)."""
        self.total_calls += 1
        return self.loop.run_until_complete(self.acall()) if self.is_async else self.call()

    def batch(self, calls: int) -> list[int]:
        """`calls` sequential calls, each timed in nanoseconds."""
        self.total_calls += calls
        if self.is_async:
            return self.loop.run_until_complete(self._abatch(calls))
        call, clock, times = self.call, time.perf_counter_ns, []
        for _ in range(calls):
            started = clock()
            call()
            times.append(clock() - started)
        return times

    async def _abatch(self, calls: int) -> list[int]:
        acall, clock, times = self.acall, time.perf_counter_ns, []
        for _ in range(calls):
            started = clock()
            await acall()
            times.append(clock() - started)
        return times

    def timed(self, calls: int, warmup: int) -> dict[str, Any]:
        """Warm up, then time `calls` calls; with this process's CPU seconds over them."""
        if warmup:
            self.batch(warmup)
        cpu, wall = time.process_time(), time.perf_counter()
        times = self.batch(calls)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        return {"ns": times, "cpu_seconds": cpu, "wall_seconds": wall}

    def profiled(self, calls: int, path: str) -> dict[str, Any]:
        """`calls` calls under cProfile; the stats go to `path`."""
        import cProfile

        profile = cProfile.Profile()
        wall = time.perf_counter()
        profile.enable()
        self.batch(calls)
        profile.disable()
        wall = time.perf_counter() - wall
        profile.dump_stats(path)
        return {"path": path, "calls": calls, "wall_seconds": wall}


class HttpxFloor(Contender):
    """The floor: the JSON body over httpx.AsyncClient, the reply parsed with orjson."""

    packages = ("httpx", "orjson")

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        import httpx
        import orjson

        self.loads = orjson.loads
        self.client = httpx.AsyncClient(timeout=60)
        self.url = config["base_url"].rstrip("/") + "/chat/completions"
        self.body = orjson.dumps(
            {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]}
        )
        self.headers = {
            "authorization": f"Bearer {config['api_key']}",
            "content-type": "application/json",
        }

    async def acall(self) -> str:
        reply = await self.client.post(self.url, content=self.body, headers=self.headers)
        reply.raise_for_status()
        return str(self.loads(reply.content)["choices"][0]["message"]["content"])

    async def aclose(self) -> None:
        await self.client.aclose()


class OpenAISync(Contender):
    """The official SDK, sync client."""

    is_async = False
    packages = ("openai", "httpx")

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        import openai

        self.client = openai.OpenAI(
            base_url=config["base_url"], api_key=config["api_key"], max_retries=0
        )
        self.messages = [{"role": "user", "content": PROMPT}]

    def call(self) -> str:
        completion = self.client.chat.completions.create(model=MODEL, messages=self.messages)  # type: ignore[arg-type]
        return str(completion.choices[0].message.content)

    async def aclose(self) -> None:
        self.client.close()


class OpenAIAsync(Contender):
    """The official SDK, async client."""

    packages = ("openai", "httpx")

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        import openai

        self.client = openai.AsyncOpenAI(
            base_url=config["base_url"], api_key=config["api_key"], max_retries=0
        )
        self.messages = [{"role": "user", "content": PROMPT}]

    async def acall(self) -> str:
        completion = await self.client.chat.completions.create(model=MODEL, messages=self.messages)  # type: ignore[arg-type]
        return str(completion.choices[0].message.content)

    async def aclose(self) -> None:
        await self.client.close()


def _messages() -> list[Any]:
    from pydantic_ai.messages import ModelRequest, UserPromptPart

    return [ModelRequest(parts=[UserPromptPart(content=PROMPT)])]


def _text(response: Any) -> str:
    return "".join(getattr(part, "content", "") for part in response.parts)


class PydanticAI(Contender):
    """pydantic-ai's OpenAIChatModel.request (what the gateway would cost on the SDK path)."""

    packages = ("pydantic-ai-slim", "openai", "httpx")

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        from openai import AsyncOpenAI
        from pydantic_ai.models import ModelRequestParameters
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        self.client = AsyncOpenAI(
            base_url=config["base_url"], api_key=config["api_key"], max_retries=0
        )
        self.model = OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=self.client))
        self.messages = _messages()
        self.parameters = ModelRequestParameters()

    async def acall(self) -> str:
        return _text(await self.model.request(self.messages, None, self.parameters))

    async def aclose(self) -> None:
        await self.client.close()


class Wire(Contender):
    """The gateway's OpenAI model (openai_wire.OpenAIWireModel) called directly."""

    packages = ("pydantic-ai-slim", "httpx", "orjson")

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        import uuid

        from pydantic_ai.models import ModelRequestParameters

        from missionctl.models.catalog import DeploymentSpec
        from missionctl.models.providers import build_model
        from missionctl.models.schemas import Provider

        spec = DeploymentSpec(
            deployment_id=uuid.uuid4(),
            name="gpt",
            provider=Provider.OPENAI,
            model=MODEL,
            base_url=config["base_url"],
            api_key=config["api_key"],
        )
        self.model, self.closers = build_model(spec)
        self.messages = _messages()
        self.parameters = ModelRequestParameters()

    async def acall(self) -> str:
        return _text(await self.model.request(self.messages, None, self.parameters))

    async def aclose(self) -> None:
        for closer in self.closers:
            await closer()


class LiteLLM(Contender):
    """litellm.completion with the OpenAI provider pointed at the fake."""

    is_async = False
    packages = ("litellm", "openai", "httpx")

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        import litellm

        self.completion = litellm.completion
        self.kwargs = {
            "model": f"openai/{MODEL}",
            "api_base": config["base_url"],
            "api_key": config["api_key"],
            "messages": [{"role": "user", "content": PROMPT}],
        }

    def call(self) -> str:
        response = self.completion(**self.kwargs)
        return str(response.choices[0].message.content)


class GatewayCalls(Contender):
    """Gateway.request on the database at `database_url` (set up by bench/models.py)."""

    packages = ("pydantic-ai-slim", "httpx", "sqlalchemy", "psycopg")

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        from missionctl import tables as _all_tables  # noqa: F401 - map every table
        from missionctl.db import DEFAULT_TENANT_ID, Database, make_engine
        from missionctl.models.gateway import Gateway, GatewayOptions
        from missionctl.models.metering import CallContext
        from missionctl.sealing import Sealer

        self.db = Database(make_engine(config["database_url"]))
        self.sealer = Sealer(config["secret_key"])
        self.gateway_class, self.options_class = Gateway, GatewayOptions
        self.gateway = self.new_gateway()
        self.context = CallContext(DEFAULT_TENANT_ID)
        self.alias = config.get("alias", "gpt")
        self.messages = _messages()
        self.outcomes: dict[str, int] = {}

    def new_gateway(self) -> Any:
        """A Gateway with a new breaker state and new clients (default options)."""
        return self.gateway_class(self.db, self.sealer, self.options_class())

    async def acall(self) -> str:
        completion = await self.gateway.request(self.context, self.alias, self.messages)
        self._count(completion)
        return _text(completion.response)

    def _count(self, completion: Any) -> None:
        for attempt in completion.attempts:
            self.outcomes[attempt.outcome] = self.outcomes.get(attempt.outcome, 0) + 1

    async def aclose(self) -> None:
        await self.gateway.aclose()

    def close(self) -> None:
        super().close()
        self.db.dispose()

    def extra(self) -> dict[str, Any]:
        return {"attempt_outcomes": dict(self.outcomes)}


class Fallback(GatewayCalls):
    """The gateway on policy `fallback` = [dead, gpt]: what a dead first deployment costs."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__({**config, "alias": "fallback"})
        from missionctl.models.gateway import GatewayOptions

        self.breaker_failures = GatewayOptions().breaker_failures

    async def run(self, fresh: int, steady: int) -> dict[str, Any]:
        """`fresh` times: a new gateway's first call straight to `gpt` (the baseline), then a
        new gateway's first call through `fallback` (a refused connect, then `gpt`) and its next
        calls until the dead deployment's breaker opens; then `steady` calls with it open."""
        clock = time.perf_counter_ns
        out: dict[str, list[int]] = {"first_direct": [], "first_fallback": [], "warm_fallback": []}
        for _ in range(fresh):
            await self.gateway.aclose()
            self.gateway = self.new_gateway()
            started = clock()
            completion = await self.gateway.request(self.context, "gpt", self.messages)
            out["first_direct"].append(clock() - started)
            self._count(completion)
            await self.gateway.aclose()
            self.gateway = self.new_gateway()
            for index in range(self.breaker_failures):
                started = clock()
                completion = await self.gateway.request(self.context, "fallback", self.messages)
                elapsed = clock() - started
                self._count(completion)
                outcomes = [(a.deployment, a.outcome) for a in completion.attempts]
                if outcomes != [("dead", "error"), ("gpt", "ok")]:
                    raise RuntimeError(f"expected a fallback from dead to gpt, got {outcomes}")
                out["first_fallback" if index == 0 else "warm_fallback"].append(elapsed)
            self.total_calls += 1 + self.breaker_failures
        completion = await self.gateway.request(self.context, "fallback", self.messages)
        self.total_calls += 1
        self._count(completion)
        outcomes = [(a.deployment, a.outcome) for a in completion.attempts]
        if outcomes != [("dead", "circuit_open"), ("gpt", "ok")]:
            raise RuntimeError(f"expected the dead deployment's circuit open, got {outcomes}")
        cpu, wall = time.process_time(), time.perf_counter()
        steady_ns = await self._abatch(steady)
        self.total_calls += steady
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        return {**out, "steady": steady_ns, "steady_cpu_seconds": cpu, "steady_wall_seconds": wall}


CONTENDERS: dict[str, type[Contender]] = {
    "httpx": HttpxFloor,
    "openai-sync": OpenAISync,
    "openai-async": OpenAIAsync,
    "pydantic-ai": PydanticAI,
    "wire": Wire,
    "litellm": LiteLLM,
    "gateway": GatewayCalls,
    "fallback": Fallback,
}


def answer(contender: Contender, command: dict[str, Any]) -> dict[str, Any]:
    """Run one command."""
    op = command["op"]
    if op == "time":
        result = contender.timed(command["calls"], command.get("warmup", 0))
    elif op == "profile":
        result = contender.profiled(command["calls"], command["path"])
    elif op == "fallback" and isinstance(contender, Fallback):
        coroutine: Awaitable[dict[str, Any]] = contender.run(command["fresh"], command["steady"])
        result = contender.loop.run_until_complete(coroutine)
    else:
        raise ValueError(f"unknown command {op!r} for {type(contender).__name__}")
    return {**result, "total_calls": contender.total_calls, **contender.extra()}


def run_contender(kind: str, config: dict[str, Any]) -> None:
    """Set up, check one reply, warm up, then answer commands until stdin closes."""
    contender = CONTENDERS[kind](config)
    reply = contender.first()
    if reply != EXPECTED_REPLY:
        raise RuntimeError(f"{kind}: unexpected reply {reply!r} (not the fake's?)")
    contender.batch(config.get("warmup", INITIAL_WARMUP))
    say({"ready": kind, "versions": versions(*contender.packages), "reply": reply})
    try:
        for line in sys.stdin:
            if line.strip():
                say(answer(contender, json.loads(line)))
    finally:
        contender.close()


def main(argv: list[str]) -> int:
    """`models_calls.py KIND CONFIG_JSON`."""
    kind, config = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    runner: Callable[[dict[str, Any]], None] = (
        serve if kind == "serve" else lambda c: run_contender(kind, c)
    )
    runner(config)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
