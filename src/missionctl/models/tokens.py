"""Token estimates without a tokenizer.

Real tokenizers (tiktoken and friends) fetch their vocabularies at run time, which Mission Control
may never do; budgets need an estimate before a call, not an exact count. Four characters a token
is the usual rule of thumb for English and code; the provider's own count replaces the estimate
once a reply arrives. The offline model counts with the same rule, so its usage is stable.
"""

from __future__ import annotations

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Roughly how many tokens `text` is (at least one for any non-empty text)."""
    if not text:
        return 0
    return max(1, -(-len(text) // CHARS_PER_TOKEN))
