"""The job life cycle's rules, without I/O: retry delays, outcomes of a failure, and which
person-driven actions each state allows."""

from __future__ import annotations

from missionctl.engine.schemas import JobStatus

S = JobStatus

# State a person's action starts from → the state it leads to.
RETRYABLE = frozenset({S.FAILED, S.DEAD, S.CANCELLED, S.DISCARDED})
CANCELLABLE = frozenset({S.QUEUED, S.FAILED, S.RUNNING})
DISCARDABLE = frozenset({S.FAILED, S.DEAD})
FINAL = frozenset({S.SUCCEEDED, S.DEAD, S.CANCELLED, S.DISCARDED})


def retry_delay(attempt: int, base_seconds: float, cap_seconds: float, jitter: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    Exponential with "equal jitter": the ceiling doubles per attempt up to `cap_seconds`, and the
    delay is drawn from its upper half (`jitter` in [0, 1]), so retries spread out but never
    come back at once.
    """
    if attempt < 1:
        raise ValueError("attempts are counted from 1")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter must be within [0, 1]")
    exponent = min(attempt - 1, 62)  # beyond this the cap has long taken over
    ceiling = min(cap_seconds, base_seconds * 2.0**exponent)
    return ceiling / 2 + jitter * ceiling / 2


def status_after_failure(attempts: int, max_attempts: int, *, is_retryable: bool) -> JobStatus:
    """FAILED (to be retried) while attempts remain and the error allows it, else DEAD."""
    if is_retryable and attempts < max_attempts:
        return S.FAILED
    return S.DEAD
