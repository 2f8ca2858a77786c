"""A tenant's catalog as the gateway sees it, and how an alias resolves. Pure: no I/O.

An alias is, in this order: one of the tenant's policies, one of its deployments, a built-in
default policy (`smart`, `fast`, `cheap`, `default`), or `offline`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from missionctl.errors import InvalidInput
from missionctl.models.accounting import cost_nanos
from missionctl.models.routing import Candidate
from missionctl.models.schemas import OFFLINE, BudgetScope, Provider, Strategy

DEPLOYMENT_PREFIX = "deployment:"
BUILTIN_POLICIES: dict[str, Strategy] = {
    "smart": Strategy.ORDER,
    "fast": Strategy.LATENCY,
    "cheap": Strategy.COST,
    "default": Strategy.ORDER,
}


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    """A deployment with its credential opened: what a request is made with."""

    deployment_id: uuid.UUID | None
    name: str
    provider: Provider
    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    capabilities: frozenset[str] = frozenset({"tools", "json_output"})
    context_window: int | None = None
    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    tags: tuple[str, ...] = ()
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    timeout_seconds: float = 60.0
    is_enabled: bool = True
    version: str = ""

    @property
    def is_priced(self) -> bool:
        """Whether both prices are known."""
        return self.input_per_mtok is not None and self.output_per_mtok is not None

    def cost_nanos(self, input_tokens: int, output_tokens: int) -> int | None:
        """What a request's tokens cost here, or None when the deployment is unpriced."""
        if self.input_per_mtok is None or self.output_per_mtok is None:
            return None
        return cost_nanos(input_tokens, output_tokens, self.input_per_mtok, self.output_per_mtok)

    @property
    def cache_key(self) -> str:
        """Identifies this deployment's configuration (a changed one gets a new client)."""
        return f"{self.deployment_id or OFFLINE}:{self.version}"

    def candidate(self, latency_ms: float | None) -> Candidate:
        """What routing needs of it."""
        return Candidate(
            name=self.name,
            capabilities=self.capabilities,
            context_window=self.context_window,
            input_per_mtok=self.input_per_mtok,
            output_per_mtok=self.output_per_mtok,
            latency_ms=latency_ms,
            is_enabled=self.is_enabled,
        )


def offline_spec() -> DeploymentSpec:
    """The built-in offline model: free, always there."""
    return DeploymentSpec(
        deployment_id=None,
        name=OFFLINE,
        provider=Provider.OFFLINE,
        model=OFFLINE,
        capabilities=frozenset({"tools", "json_output"}),
        input_per_mtok=0.0,
        output_per_mtok=0.0,
        timeout_seconds=60.0,
    )


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """A policy as routing applies it."""

    name: str
    deployments: tuple[str, ...]
    strategy: Strategy = Strategy.ORDER
    required_capabilities: frozenset[str] = frozenset()
    retries: int = 1
    cache_ttl_seconds: int | None = None


BudgetRef = tuple[uuid.UUID, str, str | None, str]  # budget_id, scope, scope_id, period


@dataclass(frozen=True, slots=True)
class Catalog:
    """One tenant's deployments, policies and budgets."""

    deployments: dict[str, DeploymentSpec] = field(default_factory=dict)
    policies: dict[str, PolicySpec] = field(default_factory=dict)
    budgets: tuple[BudgetRef, ...] = ()

    def deployment(self, name: str) -> DeploymentSpec | None:
        """A deployment by name (`offline` always exists)."""
        if name == OFFLINE and OFFLINE not in self.deployments:
            return offline_spec()
        return self.deployments.get(name)

    def resolve(self, alias: str) -> tuple[PolicySpec, list[DeploymentSpec]]:
        """The policy an alias means and its deployments in listed order, or `InvalidInput`.

        `deployment:<name>` always means that one deployment, alone, tried once.
        """
        if alias.startswith(DEPLOYMENT_PREFIX):
            spec = self.deployment(alias.removeprefix(DEPLOYMENT_PREFIX))
            if spec is None:
                raise InvalidInput(f"unknown model deployment in {alias!r}", field="model")
            return PolicySpec(name=alias, deployments=(spec.name,), retries=0), [spec]
        if alias in self.policies:
            policy = self.policies[alias]
        elif alias in self.deployments or alias == OFFLINE:
            policy = PolicySpec(name=alias, deployments=(alias,), retries=1)
        elif alias in BUILTIN_POLICIES:
            policy = builtin_policy(alias, self)
        else:
            raise InvalidInput(
                f"unknown model {alias!r}: not a policy or deployment of this tenant",
                field="model",
            )
        specs = [spec for name in policy.deployments if (spec := self.deployment(name))]
        return policy, specs

    def budgets_for(
        self,
        agent_id: uuid.UUID | None,
        workflow: str | None,
        run_id: uuid.UUID | None,
    ) -> list[tuple[uuid.UUID, str]]:
        """The budgets (id, period) a call in this context counts against."""
        wanted: set[tuple[str, str | None]] = {(BudgetScope.TENANT.value, None)}
        if agent_id is not None:
            wanted.add((BudgetScope.AGENT.value, str(agent_id)))
        if workflow is not None:
            wanted.add((BudgetScope.WORKFLOW.value, workflow))
        if run_id is not None:
            wanted.add((BudgetScope.RUN.value, str(run_id)))
        return [
            (budget_id, period)
            for budget_id, scope, scope_id, period in self.budgets
            if (scope, scope_id) in wanted
        ]


def builtin_policy(name: str, catalog: Catalog) -> PolicySpec:
    """A default policy: enabled deployments tagged `name` (any for `default`), else offline."""
    tagged = tuple(
        spec.name
        for spec in catalog.deployments.values()
        if spec.is_enabled and (name == "default" or name in spec.tags)
    )
    return PolicySpec(
        name=name, deployments=tagged or (OFFLINE,), strategy=BUILTIN_POLICIES[name], retries=1
    )
