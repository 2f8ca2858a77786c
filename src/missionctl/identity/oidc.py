"""OpenID Connect sign-in (authorization code flow with PKCE) against any standard provider.

Keycloak, Auth0, Entra ID, Google…: discovery gives the endpoints, the ID token is verified
against the provider's JWKS (signature, issuer, audience, expiry, nonce), and a verified e-mail
becomes (or finds) a Mission Control user, who joins the configured tenant with the configured
role on first sign-in. The state, nonce and PKCE verifier travel in a short-lived cookie signed
with the secret key, so no server-side session is needed.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from missionctl.errors import Unauthenticated

FLOW_TTL_SECONDS = 600
SCOPES = "openid email profile"


@dataclass(frozen=True)
class OidcConfig:
    """What the provider and this deployment agreed on."""

    issuer: str
    client_id: str
    client_secret: str | None
    redirect_uri: str


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    subject: str
    email: str
    name: str


class OidcClient:
    """Talks to one provider; discovery and keys are fetched once and kept."""

    def __init__(self, config: OidcConfig, http: httpx.Client | None = None) -> None:
        self.config = config
        self._http = http or httpx.Client(timeout=10, trust_env=False)
        self._discovery: dict[str, Any] | None = None
        self._jwks: jwt.PyJWKSet | None = None

    def discovery(self) -> dict[str, Any]:
        """The provider's metadata (/.well-known/openid-configuration)."""
        if self._discovery is None:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            response = self._http.get(url)
            response.raise_for_status()
            self._discovery = response.json()
        return self._discovery

    def start(self, flow_key: str) -> tuple[str, str]:
        """The provider URL to send the browser to, and the signed flow cookie to set."""
        state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        params = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri,
            "scope": SCOPES,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
        }
        cookie = jwt.encode(
            {
                "state": state,
                "nonce": nonce,
                "verifier": verifier,
                "exp": int(time.time()) + FLOW_TTL_SECONDS,
            },
            flow_key,
            algorithm="HS256",
        )
        return f"{self.discovery()['authorization_endpoint']}?{urlencode(params)}", cookie

    def finish(self, flow_key: str, cookie: str | None, code: str, state: str) -> Identity:
        """Exchange the code and verify the ID token; `Unauthenticated` on any mismatch."""
        try:
            flow = jwt.decode(cookie or "", flow_key, algorithms=["HS256"])
        except jwt.PyJWTError:
            raise Unauthenticated("the sign-in took too long or did not start here") from None
        if not secrets.compare_digest(str(flow.get("state", "")), state):
            raise Unauthenticated("the sign-in state does not match")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
            "client_id": self.config.client_id,
            "code_verifier": flow["verifier"],
        }
        if self.config.client_secret:
            form["client_secret"] = self.config.client_secret
        response = self._http.post(self.discovery()["token_endpoint"], data=form)
        if response.status_code != 200:
            raise Unauthenticated("the identity provider refused the sign-in code")
        claims = self._verify(str(response.json().get("id_token", "")))
        if claims.get("nonce") != flow["nonce"]:
            raise Unauthenticated("the ID token was not issued for this sign-in")
        if not claims.get("email") or claims.get("email_verified") is not True:
            raise Unauthenticated("the identity provider did not vouch for an e-mail address")
        return Identity(
            subject=str(claims["sub"]),
            email=str(claims["email"]).lower(),
            name=str(claims.get("name") or ""),
        )

    def _verify(self, id_token: str) -> dict[str, Any]:
        try:
            key = self._signing_key(id_token)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=["RS256", "ES256", "PS256"],
                audience=self.config.client_id,
                issuer=self.config.issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise Unauthenticated(f"the ID token is not valid: {exc}") from None
        return claims

    def _signing_key(self, id_token: str) -> Any:
        kid = jwt.get_unverified_header(id_token).get("kid")
        for refresh in (False, True):  # keys rotate: look again once before refusing
            if self._jwks is None or refresh:
                response = self._http.get(self.discovery()["jwks_uri"])
                response.raise_for_status()
                self._jwks = jwt.PyJWKSet.from_dict(response.json())
            for key in self._jwks.keys:
                if key.key_id == kid or kid is None:
                    return key.key
        raise KeyError(f"no signing key {kid}")
