"""Small shared vocabulary of every domain: who acted, and how lists are paged.

A core module: it imports nothing else from missionctl but `errors`.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from missionctl.errors import InvalidInput

T = TypeVar("T")

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

PageLimit = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]


MAX_DB_INT = 2**31 - 1
MAX_DB_BIGINT = 2**63 - 1


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range") from None


def _storable(value: Any) -> Any:
    """Refuse text no database can store: NUL characters and unpaired surrogates."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no unpaired surrogates)") from None
    elif isinstance(value, list):
        for item in value:
            _storable(item)
    return value


# Input timestamps must carry a zone; they are stored and returned in UTC.
UTCDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


def _assume_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Timestamps read back from the store: always UTC (SQLite hands them over without a zone).
StoredUTC = Annotated[datetime, AfterValidator(_assume_utc)]


@dataclass(frozen=True, slots=True)
class Quotas:
    """What one tenant may hold; None means no limit."""

    agents: int | None = None
    tasks_per_day: int | None = None
    storage_bytes: int | None = None


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
    """Base of every API input: unknown fields are errors, text is stripped and storable."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _text_is_storable(cls, value: Any) -> Any:
        return _storable(value)


class QueryModel(BaseModel):
    """Base of list filters read from the query string: unknown parameters are errors."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _text_is_storable(cls, value: Any) -> Any:
        return _storable(value)


_PAGES: set[Any] = set()


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next one."""

    def __class_getitem__(cls, params: Any) -> Any:
        # pydantic keeps a parametrised model only while something references it, so a
        # `Page[X]` made in a function was built anew (a few ms) on every call: keep them.
        model = super().__class_getitem__(params)
        _PAGES.add(model)
        return model

    items: list[T] = Field(description="The items of this page, in list order.")
    next_cursor: str | None = Field(
        default=None, description="Opaque cursor for the next page; null on the last page."
    )


def encode_cursor(value: uuid.UUID | int) -> str:
    """An opaque cursor for the last key of a page."""
    raw = value.bytes if isinstance(value, uuid.UUID) else str(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


R = TypeVar("R")


def split_page(
    rows: Sequence[R], limit: int, key: Callable[[R], uuid.UUID | int]
) -> tuple[Sequence[R], str | None]:
    """The rows of a page and the cursor of the next, from a query that fetched `limit + 1`.

    The extra row only tells that there is more; the cursor is the key of the last row kept.
    """
    if len(rows) <= limit:
        return rows, None
    kept = rows[:limit]
    return kept, encode_cursor(key(kept[-1]))


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
        value = int(raw.decode())
        if not 0 <= value <= MAX_DB_BIGINT:
            raise ValueError(value)
        return value
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor is not valid", field="cursor") from None
