"""A turn's safety limits, pure: a step limit, and a stop when the model repeats itself.

Models stuck in a loop call the same tool with the same arguments again and again; each call
costs money and changes nothing. A turn records every tool call it makes; the same call (tool
and arguments, compared as canonical JSON) a `max_repeats`-th time stops the turn with reason
`repeated_call`, and so does the `max_steps`-th model step (`step_limit`). The runtime then ends
the turn and escalates it to a person instead of trying again.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

DEFAULT_MAX_STEPS = 12
DEFAULT_MAX_REPEATS = 3


class StopReason(StrEnum):
    """Why a turn was stopped."""

    STEP_LIMIT = "step_limit"
    REPEATED_CALL = "repeated_call"


class TurnStopped(Exception):
    """The turn hit a safety limit; the runtime ends it and escalates."""

    def __init__(self, reason: StopReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def call_key(tool_name: str, args: str | dict[str, Any] | None) -> str:
    """A tool call's identity: its name and its arguments as canonical JSON."""
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            return f"{tool_name}\x00{args}"
    return f"{tool_name}\x00{json.dumps(args or {}, sort_keys=True, separators=(',', ':'))}"


@dataclass
class TurnGuard:
    """Counts a turn's model steps and tool calls; raises `TurnStopped` at a limit."""

    max_steps: int = DEFAULT_MAX_STEPS
    max_repeats: int = DEFAULT_MAX_REPEATS
    steps: int = 0
    calls: Counter[str] = field(default_factory=Counter)

    def step(self) -> None:
        """One more model request; past the limit the turn stops."""
        self.steps += 1
        if self.steps > self.max_steps:
            raise TurnStopped(
                StopReason.STEP_LIMIT, f"the turn reached its limit of {self.max_steps} steps"
            )

    def tool_call(self, tool_name: str, args: str | dict[str, Any] | None) -> None:
        """One more tool call; the same call `max_repeats` times stops the turn."""
        key = call_key(tool_name, args)
        self.calls[key] += 1
        if self.calls[key] >= self.max_repeats:
            raise TurnStopped(
                StopReason.REPEATED_CALL,
                f"the model called {tool_name} with the same arguments "
                f"{self.calls[key]} times; stopped and escalated",
            )
