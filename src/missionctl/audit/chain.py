"""The hash chain itself: canonical form, hashing and verification (pure, no I/O)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
CHAINED_FIELDS = (
    "audit_id",
    "tenant_id",
    "actor_kind",
    "actor_id",
    "action",
    "subject_kind",
    "subject_id",
    "details",
    "created_at",
    "prev_hash",
)


def canonical(entry: Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash covers: its chained fields as sorted, compact JSON."""
    fields = {name: entry[name] for name in CHAINED_FIELDS}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical form."""
    return hashlib.sha256(canonical(entry)).hexdigest()


@dataclass(frozen=True)
class Break:
    """Where and how the chain is broken."""

    audit_id: int
    reason: str


def verify(entries: Iterable[Mapping[str, Any]]) -> Break | None:
    """The first break in entries given in id order, or None for an intact chain.

    Catches an altered entry (its hash no longer matches), a deleted or inserted one (ids skip or
    the next entry's `prev_hash` points elsewhere) and reordering (ids out of sequence).
    """
    previous_hash, expected_id = GENESIS, 1
    for entry in entries:
        audit_id = int(entry["audit_id"])
        if audit_id != expected_id:
            return Break(audit_id, f"expected entry {expected_id} here (missing or reordered)")
        if entry["prev_hash"] != previous_hash:
            return Break(audit_id, "does not follow the entry before it (inserted or removed)")
        if entry_hash(entry) != entry["entry_hash"]:
            return Break(audit_id, "was altered (its hash does not match its content)")
        previous_hash, expected_id = entry["entry_hash"], audit_id + 1
    return None
