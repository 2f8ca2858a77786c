"""Prices per million tokens: a deployment's overrides, else genai-prices, else unpriced.

genai-prices ships its price list inside the package (no fetch at run time unless asked, and we
never ask). A lookup costs ~70 µs, so each (provider, model, base URL) is looked up once per
process and the per-token prices kept; costs are then plain arithmetic.
"""

from __future__ import annotations

from functools import lru_cache

from genai_prices import Usage, calc_price

from missionctl.models.schemas import EffectivePrices, Prices, Provider

_GENAI_PROVIDER = {
    Provider.OPENAI: "openai",
    Provider.ANTHROPIC: "anthropic",
    Provider.GEMINI: "google",
}
_MTOK = 1_000_000


@lru_cache(maxsize=1024)
def catalog_prices(provider: str, model: str, base_url: str | None) -> tuple[float, float] | None:
    """Input and output USD per 1M tokens from genai-prices, or None when it has no price."""
    provider_id = _GENAI_PROVIDER.get(Provider(provider))
    try:
        prices = [
            (
                calc_price(usage, model, provider_id=provider_id)
                if provider_id is not None
                # openai-compatible: genai-prices knows providers by their API's URL (Groq...).
                else calc_price(usage, model, provider_api_url=base_url)
            ).total_price
            for usage in (Usage(input_tokens=_MTOK), Usage(output_tokens=_MTOK))
        ]
    except LookupError:
        return None
    return float(prices[0]), float(prices[1])


def effective_prices(
    provider: str, model: str, base_url: str | None, overrides: Prices | None
) -> EffectivePrices:
    """The prices in effect for a deployment, and where they come from."""
    if provider == Provider.OFFLINE:
        return EffectivePrices(input_per_mtok=0.0, output_per_mtok=0.0, source="free")
    override_in = overrides.input_per_mtok if overrides else None
    override_out = overrides.output_per_mtok if overrides else None
    if override_in is not None and override_out is not None:
        return EffectivePrices(
            input_per_mtok=override_in, output_per_mtok=override_out, source="override"
        )
    found = catalog_prices(provider, model, base_url)
    if found is None:
        return EffectivePrices(input_per_mtok=None, output_per_mtok=None, source="unpriced")
    source = "override" if override_in is not None or override_out is not None else "genai-prices"
    return EffectivePrices(
        input_per_mtok=found[0] if override_in is None else override_in,
        output_per_mtok=found[1] if override_out is None else override_out,
        source=source,
    )
