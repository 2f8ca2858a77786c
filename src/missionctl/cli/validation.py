"""Turning CLI arguments into schemas, with pydantic's errors as one readable line."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from missionctl.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def build(schema: type[M], /, **values: Any) -> M:
    """Validate CLI values into `schema`, or raise `InvalidInput` naming the first bad field."""
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "input"
        raise InvalidInput(f"{field.replace('_', '-')}: {error['msg']}") from None


def parse_id(value: str, what: str) -> uuid.UUID:
    """A UUID given on the command line, or `InvalidInput` naming what it should have been."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a {what} id (a UUID)") from None
