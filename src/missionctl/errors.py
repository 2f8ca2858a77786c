"""The one exception hierarchy of Mission Control.

Services raise these; each adapter maps them once: the web layer to an HTTP status and an
`application/problem+json` body with the stable `code`, the CLI to a one-line message and exit code.

    MissionControlError            code            HTTP  CLI exit
    ├── NotFound                   not_found       404   3
    ├── Conflict                   conflict        409   4
    │   ├── AlreadyExists          already_exists  409   4
    │   ├── QuotaExceeded          quota_exceeded  409   4
    │   ├── InvalidTransition      invalid_transition 409 4
    │   └── VersionConflict        version_conflict 409  4
    ├── InvalidInput               invalid_input   422   2
    │   └── InvalidDefinition      invalid_workflow 422  2   (`errors`: each fault and its place)
    ├── PreconditionRequired       precondition_required 428 2
    ├── PayloadTooLarge            payload_too_large 413 2
    ├── Unauthenticated            unauthenticated 401   2
    ├── Forbidden                  forbidden       403   2
    ├── TooManyAttempts            too_many_attempts 429 2   (carries retry_after seconds)
    ├── RateLimited                rate_limited    429   2   (carries retry_after seconds)
    ├── BudgetExhausted            budget_exhausted 402  6   (a hard budget refused a model call)
    ├── ModelUnavailable           model_unavailable 503 7   (no deployment of a policy answered)
    └── JobError                   job_failed      500   1   (raised by job handlers)
        ├── RetryLater             retry_later               retry, after `after_seconds` if set
        └── PermanentFailure       permanent_failure         no retry: straight to dead letters

The worker records any exception a job handler raises as a failed attempt: retried with backoff
while attempts remain, except `PermanentFailure`, `InvalidInput` and `NotFound` (retrying cannot
help), which go straight to the dead-letter list.
"""

from __future__ import annotations

from typing import Any, ClassVar


class MissionControlError(Exception):
    """Base of every error a service raises on purpose."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    title: ClassVar[str] = "Error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(MissionControlError):
    """The object does not exist (or belongs to another tenant)."""

    code = "not_found"
    status = 404
    exit_code = 3
    title = "Not found"

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key} not found", resource=kind)


class Conflict(MissionControlError):
    """The request clashes with the current state."""

    code = "conflict"
    status = 409
    exit_code = 4
    title = "Conflict"


class AlreadyExists(Conflict):
    """A unique value is already taken."""

    code = "already_exists"
    title = "Already exists"


class QuotaExceeded(Conflict):
    """The tenant is at one of its quotas (agents, tasks a day, storage)."""

    code = "quota_exceeded"
    title = "Quota exceeded"


class InvalidTransition(Conflict):
    """A state machine refused a transition; `allowed` names the legal targets."""

    code = "invalid_transition"
    title = "Invalid transition"

    def __init__(self, kind: str, current: str, target: str, allowed: list[str]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"{kind} cannot go from {current} to {target}; allowed: {allowed_text}",
            current=current,
            target=target,
            allowed=allowed,
        )


class VersionConflict(Conflict):
    """An optimistic-concurrency check failed: someone else saved first."""

    code = "version_conflict"
    title = "Version conflict"

    def __init__(self, kind: str, expected: int, current: int) -> None:
        super().__init__(
            f"{kind} is at version {current}, not {expected}; reload and retry",
            expected_version=expected,
            current_version=current,
        )


class InvalidInput(MissionControlError):
    """The input is well-formed but not acceptable (unknown reference, bad combination)."""

    code = "invalid_input"
    status = 422
    exit_code = 2
    title = "Invalid input"


class InvalidDefinition(InvalidInput):
    """A workflow definition that cannot be saved; `errors` lists each fault with its location."""

    code = "invalid_workflow"
    title = "Invalid workflow definition"


class PreconditionRequired(MissionControlError):
    """A conditional request header (If-Match) is required but missing."""

    code = "precondition_required"
    status = 428
    exit_code = 2
    title = "Precondition required"


class PayloadTooLarge(MissionControlError):
    """An upload is larger than the configured limit."""

    code = "payload_too_large"
    status = 413
    exit_code = 2
    title = "Payload too large"


class Unauthenticated(MissionControlError):
    """No credentials, or credentials that are wrong, expired or revoked."""

    code = "unauthenticated"
    status = 401
    exit_code = 2
    title = "Unauthenticated"


class Forbidden(MissionControlError):
    """The caller is known but its role does not allow this."""

    code = "forbidden"
    status = 403
    exit_code = 2
    title = "Forbidden"


class TooManyAttempts(MissionControlError):
    """Too many attempts in a row; try again after `retry_after` seconds."""

    code = "too_many_attempts"
    status = 429
    exit_code = 2
    title = "Too many attempts"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class RateLimited(MissionControlError):
    """Over the rate limit of this kind of request; wait `retry_after` seconds."""

    code = "rate_limited"
    status = 429
    exit_code = 2
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int, headers: list[tuple[bytes, bytes]]) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after
        self.headers = headers


class BudgetExhausted(MissionControlError):
    """A hard budget has no room for this model call; nothing runs until it is raised."""

    code = "budget_exhausted"
    status = 402
    exit_code = 6
    title = "Budget exhausted"


class ModelUnavailable(MissionControlError):
    """Every deployment a model alias resolves to failed, is open-circuited or rate-limited."""

    code = "model_unavailable"
    status = 503
    exit_code = 7
    title = "Model unavailable"

    def __init__(self, detail: str, retry_after: int | None = None, **extra: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)
        self.retry_after = retry_after


class JobError(MissionControlError):
    """Raised by a job handler to say how its attempt failed."""

    code = "job_failed"
    title = "Job failed"


class RetryLater(JobError):
    """The attempt failed for now; retry (after `after_seconds`, or with the usual backoff)."""

    code = "retry_later"

    def __init__(self, detail: str, after_seconds: float | None = None) -> None:
        super().__init__(detail, after_seconds=after_seconds)
        self.after_seconds = after_seconds


class PermanentFailure(JobError):
    """The job cannot succeed; no retry."""

    code = "permanent_failure"
