"""Job kinds: each kind's handler and how it runs. Built-ins and plugins register the same way.

A plugin is a module with `register(registry: JobRegistry) -> None`. Mission Control's own
kinds live in such modules too (`BUILTIN_PLUGINS` in bootstrap); `MISSIONCTL_PLUGINS` names more.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from missionctl.engine.schemas import JobKindInfo
from missionctl.settings import SettingsError

if TYPE_CHECKING:
    from missionctl.engine.context import JobContext

DEFAULT_MAX_ATTEMPTS = 5
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class JobKind:
    """How one kind of job runs.

    A plain handler is `handler(job) -> result` and makes its effects exactly-once with
    `job.step(...)`. An atomic one is `handler(job, session) -> result` and runs inside the
    transaction that also records its success: its effects and its completion commit together.
    """

    name: str
    handler: Callable[..., Any]
    is_atomic: bool = False
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout_seconds: float = 600.0
    concurrency: int | None = None  # at most this many running at once, cluster-wide
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 3600.0
    payload_schema: type[BaseModel] | None = None
    is_schedulable: bool = False
    description: str = ""

    def run(self, job: JobContext, *args: Any) -> Any:
        """Call the handler."""
        return self.handler(job, *args)

    def info(self) -> JobKindInfo:
        """What the API shows of it."""
        return JobKindInfo(
            name=self.name,
            description=self.description or (self.handler.__doc__ or ""),
            max_attempts=self.max_attempts,
            timeout_seconds=self.timeout_seconds,
            concurrency=self.concurrency,
            is_schedulable=self.is_schedulable,
        )


class JobRegistry:
    """The kinds this process can run (and schedules may name)."""

    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def add(self, kind: JobKind) -> JobKind:
        """Register a kind; a name can be registered once."""
        if kind.name in self._kinds:
            raise ValueError(f"job kind {kind.name!r} is registered twice")
        if kind.max_attempts < 1 or (kind.concurrency is not None and kind.concurrency < 1):
            raise ValueError(f"job kind {kind.name!r}: attempts and concurrency must be >= 1")
        self._kinds[kind.name] = kind
        return kind

    def job(self, name: str, **options: Any) -> Callable[[F], F]:
        """Decorator form of `add`: `@registry.job("report.build", max_attempts=3)`."""

        def register(handler: F) -> F:
            self.add(JobKind(name=name, handler=handler, **options))
            return handler

        return register

    def get(self, name: str) -> JobKind | None:
        """The kind called `name`, if registered."""
        return self._kinds.get(name)

    def names(self) -> list[str]:
        """Every registered kind, sorted."""
        return sorted(self._kinds)

    def __iter__(self) -> Iterator[JobKind]:
        return iter(self._kinds[name] for name in self.names())

    def __contains__(self, name: object) -> bool:
        return name in self._kinds


def load_plugins(registry: JobRegistry, modules: Iterable[str]) -> None:
    """Import each module and call its `register(registry)`; one clear line if one fails."""
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise SettingsError(
                f"invalid setting MISSIONCTL_PLUGINS: cannot import {name}: {exc}"
            ) from None
        register = getattr(module, "register", None)
        if not callable(register):
            raise SettingsError(
                f"invalid setting MISSIONCTL_PLUGINS: {name} has no register(registry) function"
            )
        register(registry)
