"""Schemas of the model layer: deployments, policies, budgets, usage and the playground."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from missionctl.common import QueryModel, Schema, StoredUTC

OFFLINE = "offline"
OFFLINE_LABEL = "offline model"
NANOS_PER_USD = 1_000_000_000

Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description="Lower-case name: letters, digits, `.`, `_`, `-`.",
    ),
]
Price = Annotated[float, Field(ge=0, le=100_000, description="USD per million tokens.")]


class Provider(StrEnum):
    """Who serves a deployment (the wire protocol it speaks)."""

    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai-compatible"  # Ollama, vLLM, Groq, a LiteLLM proxy...
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    OFFLINE = "offline"  # the built-in model; not creatable


class Capability(StrEnum):
    """What a call may need of a deployment."""

    TOOLS = "tools"
    JSON_OUTPUT = "json_output"
    VISION = "vision"


class Strategy(StrEnum):
    """How a policy orders the deployments that qualify."""

    ORDER = "order"  # as listed
    COST = "cost"  # cheapest first (unpriced last)
    LATENCY = "latency"  # fastest observed first (unmeasured last)


class BudgetScope(StrEnum):
    """What a budget limits."""

    TENANT = "tenant"
    AGENT = "agent"
    WORKFLOW = "workflow"
    RUN = "run"


class BudgetPeriod(StrEnum):
    """When a budget's spend starts again from zero (UTC)."""

    DAILY = "daily"
    MONTHLY = "monthly"
    TOTAL = "total"


class Capabilities(Schema):
    """What a deployment can do."""

    tools: bool = Field(default=True, description="Tool (function) calling.")
    json_output: bool = Field(default=True, description="Structured JSON output.")
    vision: bool = Field(default=False, description="Image input.")
    context_window: int | None = Field(
        default=None, ge=1, le=100_000_000, description="Tokens of context; null if unknown."
    )

    def names(self) -> frozenset[str]:
        """The capability names this deployment has."""
        flags = {Capability.TOOLS: self.tools, Capability.JSON_OUTPUT: self.json_output}
        flags[Capability.VISION] = self.vision
        return frozenset(name.value for name, has in flags.items() if has)


class Prices(Schema):
    """Price overrides; omitted prices come from genai-prices."""

    input_per_mtok: Price | None = Field(default=None, description="Input, USD per 1M tokens.")
    output_per_mtok: Price | None = Field(default=None, description="Output, USD per 1M tokens.")


class DeploymentFields(Schema):
    """Fields a deployment is created or changed with."""

    base_url: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^https?://",
        description="API base URL (required for openai-compatible; e.g. http://127.0.0.1:11434/v1).",
    )
    capabilities: Capabilities | None = Field(default=None, description="What it can do.")
    prices: Prices | None = Field(default=None, description="Price overrides.")
    tags: list[Annotated[str, Field(min_length=1, max_length=50)]] | None = Field(
        default=None, max_length=20, description="Free labels, e.g. `smart`, `fast`, `cheap`."
    )
    requests_per_minute: int | None = Field(
        default=None, ge=1, le=10_000_000, description="Rate limit shared by every process."
    )
    tokens_per_minute: int | None = Field(
        default=None, ge=1, le=10_000_000_000, description="Token rate limit (in + out)."
    )
    timeout_seconds: float | None = Field(
        default=None, gt=0, le=3600, description="How long one request may take."
    )
    is_enabled: bool | None = Field(default=None, description="Whether routing may use it.")


class DeploymentCreate(DeploymentFields):
    """A new deployment."""

    name: Name
    provider: Literal["openai", "openai-compatible", "anthropic", "gemini"] = Field(
        description="The wire protocol."
    )
    model: str = Field(min_length=1, max_length=200, description="The provider's model name.")
    api_key: str | None = Field(
        default=None, min_length=1, max_length=1000, description="Credential; never shown again."
    )

    @model_validator(mode="after")
    def _compatible_needs_url(self) -> DeploymentCreate:
        if self.provider == Provider.OPENAI_COMPATIBLE.value and not self.base_url:
            raise ValueError("an openai-compatible deployment needs a base_url")
        if self.name == OFFLINE:
            raise ValueError("`offline` is the built-in model's name")
        return self


class DeploymentUpdate(DeploymentFields):
    """Changes to a deployment; omitted fields stay as they are."""

    model: str | None = Field(default=None, min_length=1, max_length=200, description="Model.")
    api_key: str | None = Field(
        default=None, min_length=1, max_length=1000, description="A new credential."
    )
    clear_api_key: bool = Field(default=False, description="Remove the stored credential.")


class EffectivePrices(BaseModel):
    """The prices routing and metering use, and where they come from."""

    input_per_mtok: float | None = Field(description="Input, USD per 1M tokens.")
    output_per_mtok: float | None = Field(description="Output, USD per 1M tokens.")
    source: Literal["override", "genai-prices", "free", "unpriced"] = Field(
        description="`unpriced`: no known price; usage is flagged, not counted as free."
    )


class Deployment(BaseModel):
    """A deployment as shown: the credential only as `has_api_key`."""

    deployment_id: uuid.UUID | None = Field(description="Null for the built-in offline model.")
    name: str = Field(description="Unique name in the tenant.")
    label: str = Field(description="How to show it (`offline model` for the built-in one).")
    provider: Provider = Field(description="The wire protocol.")
    model: str = Field(description="The provider's model name.")
    base_url: str | None = Field(description="API base URL, if not the provider's default.")
    has_api_key: bool = Field(description="Whether a credential is stored.")
    capabilities: Capabilities = Field(description="What it can do.")
    prices: EffectivePrices = Field(description="Prices in effect.")
    tags: list[str] = Field(description="Free labels.")
    requests_per_minute: int | None = Field(description="Request rate limit.")
    tokens_per_minute: int | None = Field(description="Token rate limit.")
    timeout_seconds: float = Field(description="Per-request timeout.")
    is_enabled: bool = Field(description="Whether routing may use it.")
    is_builtin: bool = Field(description="True for the offline model.")
    created_at: StoredUTC | None = Field(default=None, description="When it was added.")
    updated_at: StoredUTC | None = Field(default=None, description="Last change.")


class ConnectionTest(BaseModel):
    """The outcome of a one-token request to a deployment."""

    is_ok: bool = Field(description="Whether the deployment answered.")
    latency_ms: float = Field(description="How long it took.")
    detail: str = Field(description="The reply, or what went wrong.")


class PolicyFields(Schema):
    """Fields a policy is created or changed with."""

    strategy: Strategy | None = Field(default=None, description="How deployments are ordered.")
    required_capabilities: list[Capability] | None = Field(
        default=None, description="Deployments without these are skipped."
    )
    retries: int | None = Field(
        default=None, ge=0, le=5, description="Extra rounds over the list after all failed."
    )
    cache_ttl_seconds: int | None = Field(
        default=None,
        ge=1,
        le=30 * 86400,
        description="Opt-in exact-match response cache lifetime; null turns caching off.",
    )
    description: str | None = Field(default=None, max_length=500, description="What it is for.")


class PolicyCreate(PolicyFields):
    """A new routing policy."""

    name: Name
    deployments: list[Name] = Field(
        min_length=1, max_length=20, description="Deployment names, in fallback order."
    )


class PolicyUpdate(PolicyFields):
    """Changes to a policy; omitted fields stay as they are."""

    deployments: list[Name] | None = Field(
        default=None, min_length=1, max_length=20, description="Deployments in order."
    )


class Policy(BaseModel):
    """A routing policy."""

    model_config = ConfigDict(from_attributes=True)

    policy_id: uuid.UUID | None = Field(description="Null for a built-in default.")
    name: str = Field(description="The alias agents and workflow steps name.")
    deployments: list[str] = Field(description="Deployments in fallback order.")
    strategy: Strategy = Field(description="How deployments are ordered.")
    required_capabilities: list[Capability] = Field(description="What every call needs.")
    retries: int = Field(description="Extra rounds after all deployments failed.")
    cache_ttl_seconds: int | None = Field(description="Response cache lifetime, if on.")
    description: str = Field(description="What it is for.")
    is_builtin: bool = Field(default=False, description="True for a built-in default.")


class BudgetCreate(Schema):
    """A new hard budget."""

    scope: BudgetScope = Field(description="What it limits.")
    scope_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The agent or run id, or workflow name; omitted for the tenant.",
    )
    period: BudgetPeriod = Field(default=BudgetPeriod.MONTHLY, description="When it resets.")
    limit_usd: float | None = Field(default=None, ge=0, le=1e9, description="USD limit.")
    limit_tokens: int | None = Field(default=None, ge=0, le=10**15, description="Token limit.")
    description: str = Field(default="", max_length=500, description="What it is for.")

    @model_validator(mode="after")
    def _consistent(self) -> BudgetCreate:
        if self.limit_usd is None and self.limit_tokens is None:
            raise ValueError("a budget needs limit_usd, limit_tokens or both")
        if self.scope == BudgetScope.TENANT and self.scope_id is not None:
            raise ValueError("a tenant budget takes no scope_id")
        if self.scope != BudgetScope.TENANT and self.scope_id is None:
            raise ValueError(f"a {self.scope} budget needs a scope_id")
        if self.scope in (BudgetScope.AGENT, BudgetScope.RUN) and self.scope_id is not None:
            try:
                self.scope_id = str(uuid.UUID(self.scope_id))
            except ValueError:
                raise ValueError(f"scope_id of a {self.scope} budget must be a UUID") from None
        return self


class BudgetUpdate(Schema):
    """New limits; a field set to null removes that limit (one must remain)."""

    limit_usd: float | None = Field(default=None, ge=0, le=1e9, description="USD limit.")
    limit_tokens: int | None = Field(default=None, ge=0, le=10**15, description="Token limit.")
    description: str | None = Field(default=None, max_length=500, description="What it is for.")


class Budget(BaseModel):
    """A budget with what it has spent in its current period."""

    budget_id: uuid.UUID = Field(description="The budget's id.")
    scope: BudgetScope = Field(description="What it limits.")
    scope_id: str | None = Field(description="Agent or run id, or workflow name.")
    period: BudgetPeriod = Field(description="When it resets.")
    period_key: str = Field(description="The current period: `total`, `2026-11`, `2026-11-30`.")
    limit_usd: float | None = Field(description="USD limit.")
    limit_tokens: int | None = Field(description="Token limit.")
    spent_usd: float = Field(description="Charged this period.")
    spent_tokens: int = Field(description="Tokens charged this period.")
    held_usd: float = Field(description="Estimates of calls in flight.")
    held_tokens: int = Field(description="Token estimates of calls in flight.")
    is_exhausted: bool = Field(description="Whether a call was refused this period.")
    description: str = Field(description="What it is for.")
    created_at: StoredUTC = Field(description="When it was set.")
    updated_at: StoredUTC = Field(description="Last change.")


class UsageGroupBy(StrEnum):
    """How usage is aggregated."""

    DAY = "day"
    AGENT = "agent"
    MODEL = "model"
    DEPLOYMENT = "deployment"
    TASK = "task"
    RUN = "run"


class UsageFilter(QueryModel):
    """Which usage to aggregate, and how."""

    group_by: UsageGroupBy = Field(default=UsageGroupBy.DAY, description="The grouping.")
    since: date | None = Field(default=None, description="First day (UTC), inclusive.")
    until: date | None = Field(default=None, description="Last day (UTC), inclusive.")
    agent_id: uuid.UUID | None = Field(default=None, description="Only this agent.")
    task_id: uuid.UUID | None = Field(default=None, description="Only this task.")
    run_id: uuid.UUID | None = Field(default=None, description="Only this run.")
    format: Literal["json", "csv"] = Field(default="json", description="Response format.")


class UsageGroup(BaseModel):
    """Totals of one group."""

    key: str | None = Field(description="The day, agent id, model, task id...; null if none.")
    requests: int = Field(description="Model requests.")
    input_tokens: int = Field(description="Tokens in.")
    output_tokens: int = Field(description="Tokens out.")
    cost_usd: float = Field(description="Cost of the priced requests.")
    unpriced_requests: int = Field(description="Requests to models without a known price.")
    cache_hits: int = Field(description="Requests answered from the response cache.")
    errors: int = Field(description="Requests that failed.")
    avg_latency_ms: float = Field(description="Mean latency.")


class UsageReport(BaseModel):
    """Usage aggregated by one dimension."""

    group_by: UsageGroupBy = Field(description="The grouping.")
    since: date | None = Field(description="First day, if limited.")
    until: date | None = Field(description="Last day, if limited.")
    total: UsageGroup = Field(description="Totals over all groups.")
    groups: list[UsageGroup] = Field(description="One entry per group.")


class ChatMessage(Schema):
    """One message of a playground conversation."""

    role: Literal["system", "user", "assistant"] = Field(description="Who speaks.")
    content: str = Field(min_length=1, max_length=200_000, description="What is said.")


class PlaygroundChat(Schema):
    """A chat to try a model alias or deployment."""

    model: str = Field(
        min_length=1,
        max_length=120,
        description="Policy alias or deployment name; `deployment:<name>` for exactly that one.",
    )
    messages: list[ChatMessage] = Field(min_length=1, max_length=200, description="The chat.")
    stream: bool = Field(default=False, description="Answer as server-sent events.")
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000, description="Output cap.")
    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling.")
    cache_ttl_seconds: int | None = Field(
        default=None, ge=1, le=30 * 86400, description="Use the response cache for this long."
    )


class Attempt(BaseModel):
    """One try at one deployment."""

    deployment: str = Field(description="The deployment tried.")
    outcome: str = Field(description="`ok`, `error`, `timeout`, `rate_limited`, `skipped`...")
    error: str | None = Field(default=None, description="What went wrong.")
    latency_ms: float = Field(default=0.0, description="How long it took.")


class PlaygroundReply(BaseModel):
    """The reply with what it cost."""

    model: str = Field(description="The alias asked for.")
    deployment: str = Field(description="The deployment that answered.")
    provider: Provider = Field(description="Its provider.")
    model_name: str = Field(description="The provider's model name.")
    label: str = Field(description="How to show the model.")
    content: str = Field(description="The reply text.")
    input_tokens: int = Field(description="Tokens in.")
    output_tokens: int = Field(description="Tokens out.")
    cost_usd: float | None = Field(description="Cost; null when the model is unpriced.")
    is_priced: bool = Field(description="Whether the model has a known price.")
    latency_ms: float = Field(description="Time to the reply.")
    is_cache_hit: bool = Field(description="Answered from the response cache.")
    attempts: list[Attempt] = Field(description="Every deployment tried, in order.")
