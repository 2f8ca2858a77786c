"""Secrets at rest: sealed values open only with the same key and context, and never leak."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from missionctl.sealing import Sealer, SealError

KEY = "k" * 48


@given(secret=st.text(min_size=1, max_size=200), context=st.text(max_size=40))
def test_seal_then_open_round_trips(secret: str, context: str) -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal(secret, context)
    assert sealer.open(sealed, context) == secret
    assert sealed.startswith("v1.")


def test_sealed_values_hide_the_secret_and_differ_each_time() -> None:
    sealer = Sealer(KEY)
    first, second = (
        sealer.seal("sk-live-123456", "provider:a"),
        sealer.seal("sk-live-123456", "provider:a"),
    )
    assert first != second
    assert "sk-live" not in first


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1],  # a changed byte
        lambda s: "v2" + s[2:],  # an unknown version
        lambda s: "v1.",  # empty
        lambda s: "v1.!!!",  # not base64
    ],
)
def test_changed_values_do_not_open(tamper: object) -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal("secret", "ctx")
    with pytest.raises(SealError):
        sealer.open(tamper(sealed), "ctx")  # type: ignore[operator]


def test_another_key_or_context_cannot_open() -> None:
    sealed = Sealer(KEY).seal("secret", "provider:a")
    with pytest.raises(SealError):
        Sealer("z" * 48).open(sealed, "provider:a")
    with pytest.raises(SealError):
        Sealer(KEY).open(sealed, "provider:b")
