"""The one settings tree. Nothing else in Mission Control reads the environment.

Every value comes from `MISSIONCTL_*` variables (nested with `__`) or a `.env` file, is
validated once at start-up, and is then passed down. A bad value raises `SettingsError` with
one readable line.
"""

from __future__ import annotations

import json
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "postgresql+psycopg"})
SQLITE_SCHEMES = frozenset({"sqlite", "sqlite+pysqlite"})
SECRET_KEY_FILE = "secret.key"  # noqa: S105 - a file name, not a secret


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line meant for a person."""


class Settings(BaseSettings):
    """Mission Control's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="MISSIONCTL_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        frozen=True,
    )

    data_dir: Path = Field(
        default=Path(".missionctl"),
        description="Directory for the SQLite database, secret key, attachments and WORKING.md.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; defaults to a SQLite file in the data directory. "
        "PostgreSQL URLs (postgresql://…) are served by psycopg 3.",
    )
    host: str = Field(default="127.0.0.1", min_length=1, description="Address the API binds to.")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(
        default=8000, description="Port the API listens on."
    )
    secret_key: str | None = Field(
        default=None,
        min_length=32,
        description="Key for signing and encryption. Generated on first start and kept in "
        "<data_dir>/secret.key (mode 0600) when unset.",
    )
    max_attachment_bytes: Annotated[int, Field(ge=1)] = Field(
        default=10 * 1024 * 1024, description="Largest accepted message attachment, in bytes."
    )
    max_request_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=20 * 1024 * 1024,
        description="Largest request body accepted (attachments travel base64 inside JSON).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (comma-separated or JSON "
        "list); none by default: the dashboard is served from the same origin.",
    )
    quota_agents: Annotated[int, Field(ge=0)] = Field(default=100, description="Agents per tenant.")
    quota_tasks_per_day: Annotated[int, Field(ge=0)] = Field(
        default=10_000, description="Tasks a tenant may create per UTC day."
    )
    quota_storage_bytes: Annotated[int, Field(ge=0)] = Field(
        default=5 * 1024**3, description="Attachment bytes per tenant."
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect issuer URL (e.g. a Keycloak realm); enables SSO sign-in.",
    )
    oidc_client_id: str | None = Field(default=None, description="OIDC client id.")
    oidc_client_secret: str | None = Field(
        default=None, description="OIDC client secret (confidential clients)."
    )
    oidc_tenant: str = Field(
        default="default", description="Tenant that people signing in by OIDC join."
    )
    oidc_role: str = Field(
        default="viewer", description="Role they get there on their first sign-in."
    )
    public_url: str | None = Field(
        default=None,
        description="This deployment's public base URL (for OIDC redirects); the request's own "
        "when unset.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for rate-limit counters shared by all API processes (optional; "
        "counters stay in each process without it).",
    )
    rate_limit_read: Annotated[int, Field(ge=1)] = Field(
        default=1200, description="Reads per minute per principal."
    )
    rate_limit_write: Annotated[int, Field(ge=1)] = Field(
        default=300, description="Writes per minute per principal."
    )
    rate_limit_auth: Annotated[int, Field(ge=1)] = Field(
        default=20, description="Sign-in and refresh attempts per minute per client address."
    )
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = Field(
        default=10, description="Connections kept per process (PostgreSQL)."
    )
    db_writers: Annotated[int, Field(ge=0, le=200)] = Field(
        default=1,
        description="Units of work one process writes to PostgreSQL at once (0: no limit; "
        "SQLite: always 1). Few is faster: a process runs Python one thread at a time, and "
        "units of work that interleave stretch each other's round trips. More writing is more "
        "processes.",
    )
    response_cache: bool = Field(
        default=True,
        description="Cache hot list responses, validated by the event log (SQLite only; see "
        "web/cache.py). Off: every request reads the database.",
    )
    web_threads: Annotated[int, Field(ge=1, le=256)] = Field(
        default=4,
        description="Threads per API process for request handlers. Few is faster: handlers are "
        "short and CPU-bound, and more threads only contend for the GIL.",
    )
    log_level: str = Field(default="info", description="Log level: debug, info, warning, error.")
    worker_concurrency: Annotated[int, Field(ge=1, le=256)] = Field(
        default=4, description="Jobs a worker runs at once (`missionctl worker`, `up`)."
    )
    job_lease_seconds: Annotated[float, Field(ge=0.5, le=3600)] = Field(
        default=30.0,
        description="How long a claimed job stays leased without renewal; a job whose worker "
        "died runs again about this much later.",
    )
    job_poll_seconds: Annotated[float, Field(ge=0.01, le=60)] = Field(
        default=1.0,
        description="How often an idle worker looks for jobs when no signal woke it.",
    )
    shutdown_grace_seconds: Annotated[float, Field(ge=0, le=3600)] = Field(
        default=30.0,
        description="On SIGTERM, how long running jobs may finish before they are handed back.",
    )
    job_retention_days: Annotated[int, Field(ge=0, le=36_500)] = Field(
        default=7,
        description="Days finished jobs (succeeded, cancelled, discarded) are kept; 0 keeps "
        "them forever. Dead jobs stay until retried or discarded.",
    )
    event_retention_days: Annotated[int, Field(ge=0, le=36_500)] = Field(
        default=0, description="Days events (the activity feed) are kept; 0 keeps them forever."
    )
    plugins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Python modules with a `register(registry)` function adding job kinds "
        "(comma-separated or JSON list).",
    )
    allow_private_webhooks: bool = Field(
        default=False,
        description="Let webhooks target private, loopback and link-local addresses (off: "
        "such targets are refused, against SSRF).",
    )
    webhook_retry_base_seconds: Annotated[float, Field(ge=0.01, le=3600)] = Field(
        default=10.0,
        description="First retry delay of a failed webhook delivery; it doubles (with jitter) "
        "up to an hour, for 8 attempts in all.",
    )
    fetch_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts agents may fetch URLs from (comma-separated; `.example.com` allows "
        "its subdomains); none by default.",
    )
    workflow_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts workflow `http` nodes may call (comma-separated; `.example.com` "
        "allows its subdomains); none by default.",
    )
    stall_heartbeats: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=3,
        description="Heartbeats of its assignee without progress after which an open task is "
        "escalated to people as stalled.",
    )
    agent_capacity: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=5,
        description="Open tasks (assigned, in progress, in review) an agent holds at most; "
        "assignment in code never gives it more.",
    )
    agent_max_steps: Annotated[int, Field(ge=1, le=200)] = Field(
        default=12,
        description="Model requests one agent turn may make before it is stopped and escalated.",
    )
    agent_context_tokens: Annotated[int, Field(ge=500, le=2_000_000)] = Field(
        default=6000,
        description="Token budget of a turn's context (older thread messages are summarised).",
    )
    review_max_rounds: Annotated[int, Field(ge=1, le=20)] = Field(
        default=3,
        description="Times a reviewer may return a task before it is escalated to a person.",
    )
    auto_approve_agents: bool = Field(
        default=False,
        description="Create the agents the orchestrator proposes without waiting for a person.",
    )
    models_file: Path | None = Field(
        default=None,
        description="A YAML catalog of model deployments, policies and budgets applied to the "
        "default tenant at start-up (the same format as `missionctl models apply`).",
    )
    model_catalog_ttl_seconds: Annotated[float, Field(ge=0, le=3600)] = Field(
        default=2.0,
        description="How long a process trusts its copy of a tenant's deployments, policies and "
        "budgets before reading them again (changes made in this process apply at once).",
    )
    model_estimate_output_tokens: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=512,
        description="Output tokens a call is assumed to use when checked against budgets, "
        "unless the call sets max_tokens.",
    )
    model_breaker_failures: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=5, description="Failures in a row that open a deployment's circuit breaker."
    )
    model_breaker_cooldown_seconds: Annotated[float, Field(ge=0.01, le=3600)] = Field(
        default=30.0,
        description="How long an open circuit stays open before one probe call is let through.",
    )
    model_retry_base_seconds: Annotated[float, Field(ge=0, le=60)] = Field(
        default=0.25,
        description="Backoff before a policy's next round of attempts; doubles each round, "
        "with jitter.",
    )
    model_max_wait_seconds: Annotated[float, Field(ge=0, le=600)] = Field(
        default=20.0,
        description="The longest a call waits for a rate-limited deployment's Retry-After.",
    )
    stream_ping_seconds: Annotated[float, Field(ge=0.1, le=300)] = Field(
        default=15.0, description="How often idle live-event streams get a ping."
    )
    stream_queue_size: Annotated[int, Field(ge=10, le=1_000_000)] = Field(
        default=1000,
        description="Events a live stream may fall behind before it is disconnected (it "
        "resumes from its last event id).",
    )

    @field_validator(
        "cors_origins", "plugins", "fetch_allowed_hosts", "workflow_allowed_hosts", mode="before"
    )
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @field_validator("oidc_role")
    @classmethod
    def _person_role(cls, value: str) -> str:
        if value not in {"admin", "developer", "operator", "viewer"}:
            raise ValueError("must be one of admin, developer, operator, viewer")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.lower()
        if level not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return level

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme, separator, rest = value.partition("://")
        if not separator:
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        if scheme in POSTGRES_SCHEMES:
            # Plain postgres:// URLs (Heroku, Railway style) mean psycopg 3 here.
            return f"postgresql+psycopg://{rest}"
        if scheme in SQLITE_SCHEMES:
            return value
        raise ValueError("must be a sqlite:// or postgresql:// URL")

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one or the SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'missionctl.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        """True when the database is SQLite."""
        return self.resolved_database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment (and overrides), or raise `SettingsError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        env_name = "MISSIONCTL_" + where.upper().replace(".", "__")
        raise SettingsError(f"invalid setting {env_name}: {error['msg']}") from None


def ensure_data_dir(settings: Settings) -> Path:
    """Create the data directory if needed and return it."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = f"cannot create {settings.data_dir}: {exc.strerror}"
        raise SettingsError(f"invalid setting MISSIONCTL_DATA_DIR: {reason}") from None
    return settings.data_dir


def ensure_secret_key(settings: Settings) -> str:
    """The secret key: configured, or read from / generated into `<data_dir>/secret.key` (0600)."""
    if settings.secret_key:
        return settings.secret_key
    path = ensure_data_dir(settings) / SECRET_KEY_FILE
    if path.exists():
        key = path.read_text().strip()
        if len(key) < 32:
            raise SettingsError(f"invalid secret key file {path}: shorter than 32 characters")
        return key
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must not both write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
