"""Sending one webhook delivery: the signature, and an HTTP client that refuses private targets.

The signature is HMAC-SHA256 (stdlib `hmac`; a library would add nothing) over
`"<unix timestamp>.<body>"`, sent as `MissionControl-Signature: t=<timestamp>,v1=<hex>`. Receivers
recompute it with their secret, compare in constant time, and reject old timestamps (replays).

SSRF: a target must not reach this host's loopback, the private network, link-local addresses
(cloud metadata at 169.254.169.254) and the like. Checking the URL when the webhook is saved is
not enough — DNS can answer differently later — so the client resolves the name itself at every
connection and connects only to an address it has checked (`GuardedBackend`), unless
`MISSIONCTL_ALLOW_PRIVATE_WEBHOOKS` is set. Redirects are not followed, and proxies from the
environment are not used.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
import typing
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from missionctl import __version__

SIGNATURE_HEADER = "MissionControl-Signature"
DELIVERY_HEADER = "MissionControl-Delivery"
EVENT_HEADER = "MissionControl-Event"
TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_CHARS = 2000


class TargetRefused(Exception):
    """The target is a private, loopback or otherwise internal address."""


def is_public(address: str) -> bool:
    """True for an address on the public internet (not private, loopback, link-local, …)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse (`TargetRefused`, `ValueError`) a URL that is not http(s) or points inward.

    A name that does not resolve now passes: every delivery checks again.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; the signature authenticates deliveries")
    if allow_private:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    inward = [address for address in resolve(parts.hostname, port) if not is_public(address)]
    if inward:
        raise TargetRefused(f"{parts.hostname} resolves to a non-public address ({inward[0]})")


class GuardedBackend(httpcore.NetworkBackend):
    """Connects only to addresses it resolved and checked itself (see module docstring)."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve `host`, drop inward addresses, connect to the first one left."""
        addresses = resolve(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}")
        allowed = addresses if self.allow_private else [a for a in addresses if is_public(a)]
        if not allowed:
            raise TargetRefused(f"{host} resolves to a non-public address ({addresses[0]})")
        return self._backend.connect_tcp(
            allowed[0], port, timeout, local_address=local_address, socket_options=socket_options
        )

    def sleep(self, seconds: float) -> None:
        """Delegate."""
        self._backend.sleep(seconds)


def guarded_client(*, allow_private: bool) -> httpx.Client:
    """An HTTP client for deliveries: guarded connections, no redirects, no proxies."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx has no public hook for the network backend; its pool is rebuilt with ours (the
    # guard is covered by tests, and httpx is pinned).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=GuardedBackend(allow_private=allow_private),
    )
    return httpx.Client(
        transport=transport,
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": f"MissionControl-Webhooks/{__version__}"},
    )


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: check the signature and that it is recent (for tests and docs)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1].encode()
    given = fields.get("v1", "").encode("utf-8", "replace")
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, given)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt went."""

    is_success: bool
    is_retryable: bool
    response_status: int | None
    response_body: str | None
    error: str | None
    duration_ms: int


def send(
    client: httpx.Client,
    url: str,
    *,
    secret: str,
    delivery_id: str,
    event_type: str,
    body: dict[str, Any],
) -> Outcome:
    """POST one delivery; a 2xx answer is success, anything else is a failed attempt."""
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        DELIVERY_HEADER: delivery_id,
        EVENT_HEADER: event_type,
        SIGNATURE_HEADER: sign(secret, int(time.time()), raw),
    }
    started = time.perf_counter()
    try:
        response = client.post(url, content=raw, headers=headers)
    except TargetRefused as exc:
        return Outcome(False, False, None, None, f"refused: {exc}", _ms(started))
    except httpx.HTTPError as exc:
        return Outcome(False, True, None, None, f"{type(exc).__name__}: {exc}", _ms(started))
    text = response.text[:MAX_RESPONSE_CHARS]
    if response.is_success:
        return Outcome(True, False, response.status_code, text, None, _ms(started))
    return Outcome(
        False, True, response.status_code, text, f"HTTP {response.status_code}", _ms(started)
    )


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
