"""Cron arithmetic, without I/O: validation, the next firing, and what is due after a pause.

croniter does the calendar (time zones and daylight-saving gaps included); this module decides
what a scheduler that looks at a schedule at time `now` must fire.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from missionctl.engine.schemas import MisfirePolicy

# A scheduler back after a long pause never enqueues more than this per schedule and look.
MAX_CATCH_UP = 1000


class CronError(ValueError):
    """A cron expression or time zone that cannot be used."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone called `name`, or `CronError`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f"unknown time zone {name!r}") from None


def check(expression: str, timezone: str) -> None:
    """Raise `CronError` unless the expression and time zone are usable."""
    zone(timezone)
    fields = expression.split()
    if len(fields) not in (5, 6) or not croniter.is_valid(expression):
        raise CronError(f"not a valid cron expression: {expression!r}")


def next_after(expression: str, timezone: str, after: datetime) -> datetime:
    """The first firing strictly after `after`, in UTC."""
    local = after.astimezone(zone(timezone))
    fire: datetime = croniter(expression, local).get_next(datetime)
    return fire.astimezone(UTC)


def prev_before(expression: str, timezone: str, before: datetime) -> datetime:
    """The last firing strictly before `before`, in UTC."""
    local = before.astimezone(zone(timezone))
    fire: datetime = croniter(expression, local).get_prev(datetime)
    return fire.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Due:
    """What to fire now, and when to look next."""

    fire_times: tuple[datetime, ...]
    next_run_at: datetime


def due(
    expression: str,
    timezone: str,
    next_run_at: datetime,
    now: datetime,
    *,
    grace_seconds: int,
    policy: MisfirePolicy,
) -> Due:
    """The firings due at `now` for a schedule whose next firing was `next_run_at`.

    Firings late by at most `grace_seconds` all fire (a restart loses nothing). Older ones are
    misfires: `run_once` fires once for all of them, `skip` drops them.
    """
    if next_run_at > now:
        return Due((), next_run_at)
    grace_start = now - timedelta(seconds=grace_seconds)
    fires: list[datetime] = []
    fire = next_run_at
    if fire < grace_start:
        # Missed by more than the grace period: `run_once` fires once, as the latest of those
        # firings (one of the schedule's own times, so its idempotency key is stable).
        if policy is MisfirePolicy.RUN_ONCE:
            fires.append(prev_before(expression, timezone, grace_start))
        fire = next_after(expression, timezone, grace_start - timedelta(microseconds=1))
    while fire <= now and len(fires) < MAX_CATCH_UP:
        fires.append(fire)
        fire = next_after(expression, timezone, fire)
    if fire <= now:  # still behind after MAX_CATCH_UP: jump ahead rather than fall further back
        fire = next_after(expression, timezone, now)
    return Due(tuple(fires), fire)
