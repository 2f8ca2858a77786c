"""Passwords (argon2id), access tokens (JWT, HS256) and opaque tokens and keys (SHA-256).

Passwords are slow to hash on purpose; refresh tokens and API keys are long random strings, so a
plain SHA-256 of them is as good as a password hash and costs microseconds per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ACCESS_TOKEN_TTL = timedelta(minutes=15)
REFRESH_TOKEN_TTL = timedelta(days=14)
API_KEY_PREFIX = "mck_"
REFRESH_PREFIX = "mcr_"
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown e-mails, so their sign-in takes as long as a real
    one. Made on first need: hashing costs ~0.1 s, which every process start would pay."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches (always spends the argon2 time, even without a hash)."""
    try:
        matches = _hasher.verify(password_hash or _dummy_hash(), password)
        return matches and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def digest(secret: str) -> str:
    """SHA-256 hex of a high-entropy secret (refresh token, API key)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time string comparison."""
    return hmac.compare_digest(a.encode(), b.encode())


def new_api_key() -> tuple[str, str]:
    """A new API key and its visible prefix: `mck_<prefix>_<secret>`."""
    prefix = secrets.token_hex(6)
    return f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}", prefix


def new_refresh_token() -> str:
    """A new opaque refresh token."""
    return f"{REFRESH_PREFIX}{secrets.token_urlsafe(40)}"


@dataclass(frozen=True)
class AccessClaims:
    """What an access token says."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_slug: str
    role: str
    expires_at: datetime


class InvalidToken(Exception):
    """An access token that is malformed, forged or expired."""


def encode_access_token(
    key: str, user_id: uuid.UUID, tenant_id: uuid.UUID, tenant_slug: str, role: str, now: datetime
) -> tuple[str, datetime]:
    """A signed access token and when it expires."""
    expires_at = now + ACCESS_TOKEN_TTL
    claims = {
        "sub": str(user_id),
        "tid": str(tenant_id),
        "ten": tenant_slug,
        "role": role,
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(claims, key, algorithm="HS256"), expires_at


def decode_access_token(key: str, token: str) -> AccessClaims:
    """The claims of a valid access token, or `InvalidToken`."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            options={"require": ["exp", "sub", "tid", "ten", "role"]},
        )
        if claims.get("typ") != "access":
            raise InvalidToken("not an access token")
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            tenant_id=uuid.UUID(claims["tid"]),
            tenant_slug=str(claims["ten"]),
            role=str(claims["role"]),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise InvalidToken(str(exc)) from None
