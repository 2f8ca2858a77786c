"""Secrets at rest: provider keys, webhook secrets and the like are stored sealed.

AES-256-GCM (authenticated: a changed byte fails to open) with a key derived from the
instance's secret key by HKDF-SHA256, so the database alone never reveals a secret. Each sealed
value is `v1.<base64(nonce + ciphertext)>`; the version lets the scheme change later. The
`context` (e.g. "provider_key:<id>") is bound as associated data: a sealed value copied to
another row does not open there.

A core module: it imports nothing else from missionctl.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
NONCE_BYTES = 12


class SealError(Exception):
    """A sealed value is malformed, was changed, or belongs elsewhere."""


class Sealer:
    """Seals and opens secrets with a key derived from the secret key."""

    def __init__(self, secret_key: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"missionctl/sealing/v1"
        ).derive(secret_key.encode())
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, context: str) -> str:
        """The sealed form of `plaintext`, bound to `context`."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return f"{VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, context: str) -> str:
        """The plaintext of a value sealed for `context`, or `SealError`."""
        version, _, payload = sealed.partition(".")
        if version != VERSION or not payload:
            raise SealError("not a sealed value of a known version")
        try:
            raw = base64.urlsafe_b64decode(payload.encode())
            nonce, ciphertext = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
            return self._aead.decrypt(nonce, ciphertext, context.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise SealError("the sealed value was changed or belongs elsewhere") from exc
