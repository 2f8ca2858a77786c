"""The gateway as a pydantic-ai `Model`: agents run their tool loop on an alias, not a provider.

Every request an `Agent` makes through a `RoutedModel` is routed, budget-checked and metered
by the gateway like any other call; the agent never holds a provider client or a key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import RunContext

from missionctl.models.gateway import Gateway, Record
from missionctl.models.metering import CallContext
from missionctl.models.schemas import NANOS_PER_USD


class RoutedModel(Model):
    """A pydantic-ai model whose requests go through the gateway under one alias and context."""

    def __init__(self, gateway: Gateway, alias: str, context: CallContext) -> None:
        super().__init__()
        self.gateway = gateway
        self.alias = alias
        self.context = context

    @property
    def model_name(self) -> str:
        """The alias (the deployment that answers is decided per request)."""
        return self.alias

    @property
    def system(self) -> str:
        """Names the routing layer rather than one provider."""
        return "missionctl"

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        """One routed, budgeted, metered request."""
        return await self.request_recorded(messages, model_settings, model_request_parameters)

    async def request_recorded(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        record: Record | None = None,
    ) -> ModelResponse:
        """`request`, with the caller's `record` of the reply committed with its metering."""
        completion = await self.gateway.request(
            self.context,
            self.alias,
            messages,
            model_settings,
            model_request_parameters,
            record=record,
        )
        response = completion.response
        if response.usage.cost is None and completion.cost_nanos is not None:
            # What the gateway metered; pydantic-ai would otherwise estimate it again from its
            # price list (a scan of every known model, per request).
            response.usage.cost = Decimal(completion.cost_nanos) / NANOS_PER_USD
        return response

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        """One routed, budgeted, metered streamed request."""
        async with self.gateway.stream(
            self.context, self.alias, messages, model_settings, model_request_parameters
        ) as routed:
            yield routed.inner
