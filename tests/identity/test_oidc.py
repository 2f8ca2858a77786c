"""OpenID Connect sign-in against a local fake issuer that speaks the real protocol."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from missionctl import migrations
from missionctl.db import Database, make_engine
from missionctl.settings import load_settings
from missionctl.web.app import create_app
from tests.conftest import BACKENDS, ServerThread, bound_socket, fresh_database
from tests.factories import ok, problem

CLIENT_ID = "missionctl"


@dataclass
class FakeIssuer:
    """An OpenID provider: discovery, authorize (the user says yes at once), token, JWKS."""

    base: str = ""
    email: str = "ada@example.com"
    email_verified: bool = True
    signing_key: Any = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    kid: str = "k1"
    published_key: Any = None  # what the JWKS shows; the signing key when None
    codes: dict[str, dict[str, str]] = field(default_factory=dict)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/jwks", self.jwks),
            ]
        )

    async def discovery(self, _request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": self.base,
                "authorization_endpoint": f"{self.base}/authorize",
                "token_endpoint": f"{self.base}/token",
                "jwks_uri": f"{self.base}/jwks",
            }
        )

    async def authorize(self, request: Request) -> RedirectResponse:
        query = request.query_params
        assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
        assert query["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(12)
        self.codes[code] = {
            "nonce": query["nonce"],
            "challenge": query["code_challenge"],
            "redirect_uri": query["redirect_uri"],
        }
        return RedirectResponse(
            f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}", 302
        )

    async def token(self, request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        grant = self.codes.pop(str(form["code"]), None)
        verifier = str(form.get("code_verifier", ""))
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .decode()
            .rstrip("=")
        )
        if (
            grant is None
            or challenge != grant["challenge"]
            or form["redirect_uri"] != grant["redirect_uri"]
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {
            "iss": self.base,
            "aud": CLIENT_ID,
            "sub": "ada-1",
            "email": self.email,
            "email_verified": self.email_verified,
            "name": "Ada",
            "nonce": grant["nonce"],
            "iat": now,
            "exp": now + 300,
        }
        return JSONResponse(
            {
                "id_token": jwt.encode(
                    claims, self.signing_key, algorithm="RS256", headers={"kid": self.kid}
                ),
                "token_type": "Bearer",
            }
        )

    async def jwks(self, _request: Request) -> JSONResponse:
        key = self.published_key or self.signing_key
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        return JSONResponse({"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]})


@pytest.fixture(params=BACKENDS)
def sso(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[httpx.Client, FakeIssuer]]:
    """Mission Control configured for a fake issuer; both on 127.0.0.1."""
    issuer = FakeIssuer()
    with ServerThread(issuer.app()) as issuer_base, fresh_database(request.param, tmp_path) as url:
        issuer.base = issuer_base
        sock = bound_socket()
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = load_settings(
            data_dir=tmp_path,
            database_url=url,
            secret_key="o" * 48,
            oidc_issuer=issuer_base,
            oidc_client_id=CLIENT_ID,
            oidc_role="operator",
            public_url=base,
        )
        db = Database(make_engine(settings.resolved_database_url))
        migrations.upgrade(db.engine)
        with (
            ServerThread(create_app(settings, db), sock),
            httpx.Client(base_url=f"{base}/api/v1") as client,
        ):
            yield client, issuer
        db.dispose()


def sign_in(client: httpx.Client) -> httpx.Response:
    """Follow the browser's way: to the provider and back."""
    start = client.get("/auth/oidc/login")
    assert start.status_code == 302
    back = httpx.get(start.headers["location"])  # the provider answers at once
    assert back.status_code == 302
    callback = urlparse(back.headers["location"])
    return client.get(f"/auth/oidc/callback?{callback.query}")


def test_sign_in_creates_the_user_with_the_configured_role(
    sso: tuple[httpx.Client, FakeIssuer],
) -> None:
    client, _issuer = sso
    tokens = ok(sign_in(client))
    me = ok(client.get("/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}))
    assert me["user"]["email"] == "ada@example.com" and me["role"] == "operator"
    again = ok(sign_in(client))  # the second time finds the same user
    me_again = ok(
        client.get("/auth/me", headers={"Authorization": f"Bearer {again['access_token']}"})
    )
    assert me_again["user"]["user_id"] == me["user"]["user_id"]


def test_a_forged_or_mismatched_sign_in_is_refused(sso: tuple[httpx.Client, FakeIssuer]) -> None:
    client, issuer = sso
    start = client.get("/auth/oidc/login")
    back = urlparse(httpx.get(start.headers["location"]).headers["location"])
    params = parse_qs(back.query)
    forged_state = {"code": params["code"][0], "state": "forged"}
    problem(client.get("/auth/oidc/callback", params=forged_state), 401, "unauthenticated")
    client.cookies.clear()  # a callback that did not start here
    problem(
        client.get("/auth/oidc/callback", params={"code": "x", "state": params["state"][0]}),
        401,
        "unauthenticated",
    )
    # An ID token signed with a key the provider does not publish.
    issuer.published_key = rsa.generate_private_key(65537, 2048)
    problem(sign_in(client), 401, "unauthenticated")


def test_rotated_provider_keys_are_fetched_again(sso: tuple[httpx.Client, FakeIssuer]) -> None:
    client, issuer = sso
    ok(sign_in(client))  # the keys are now known (and kept)
    issuer.signing_key, issuer.kid = rsa.generate_private_key(65537, 2048), "k2"
    ok(sign_in(client))


def test_unverified_emails_are_refused(sso: tuple[httpx.Client, FakeIssuer]) -> None:
    client, issuer = sso
    issuer.email_verified = False
    problem(sign_in(client), 401, "unauthenticated")


def test_without_configuration_there_is_no_sso(api: httpx.Client) -> None:
    problem(api.get("/auth/oidc/login"), 404, "not_found")
