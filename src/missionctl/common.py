"""Small shared vocabulary of every domain: who acted, and how lists are paged.

A core module: it imports nothing else from missionctl but `errors`.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from missionctl.errors import InvalidInput

T = TypeVar("T")

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

PageLimit = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]


class ActorKind(StrEnum):
    """Who did something."""

    USER = "user"
    AGENT = "agent"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    """The principal behind a change: a person, an agent, or Mission Control itself."""

    kind: ActorKind
    agent_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None

    @classmethod
    def user(cls, user_id: uuid.UUID | None = None) -> Actor:
        """A person (the local operator until identity lands)."""
        return cls(ActorKind.USER, user_id=user_id)

    @classmethod
    def agent(cls, agent_id: uuid.UUID) -> Actor:
        """An agent acting through the API or a turn."""
        return cls(ActorKind.AGENT, agent_id=agent_id)

    @classmethod
    def system(cls) -> Actor:
        """Mission Control itself (seeding, schedulers)."""
        return cls(ActorKind.SYSTEM)

    @property
    def actor_id(self) -> uuid.UUID | None:
        """The agent or user id, whichever applies."""
        return self.agent_id if self.kind is ActorKind.AGENT else self.user_id


class Schema(BaseModel):
    """Base of every API schema: unknown fields are errors, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class QueryModel(BaseModel):
    """Base of list filters read from the query string: unknown parameters are errors."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next one."""

    items: list[T] = Field(description="The items of this page, in list order.")
    next_cursor: str | None = Field(
        default=None, description="Opaque cursor for the next page; null on the last page."
    )


def encode_cursor(value: uuid.UUID | int) -> str:
    """An opaque cursor for the last key of a page."""
    raw = value.bytes if isinstance(value, uuid.UUID) else str(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_uuid_cursor(cursor: str) -> uuid.UUID:
    """The key inside a cursor made by `encode_cursor` from a UUID."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError):
        raise InvalidInput("cursor is not valid", field="cursor") from None


def decode_int_cursor(cursor: str) -> int:
    """The key inside a cursor made by `encode_cursor` from an integer."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return int(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor is not valid", field="cursor") from None
