"""The dashboard: the built single-page app (`ui/`, built into `ui_dist/`) on the API's origin.

Mounted last, so every API route, the docs and the OpenAPI document match first. Hashed assets
under `/assets/` are cached by browsers for a year and sent gzipped to clients that accept it
(compressed once, on first request, and kept: a build's assets never change). Any other GET
outside the reserved prefixes gets `index.html` (uncached), and the browser-side router takes it
from there. Reserved paths that no route matched are 404 problems, never the app, so a mistyped
API call cannot look like a page.
"""

from __future__ import annotations

import gzip
import mimetypes
from functools import cache
from pathlib import Path

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Match, Mount
from starlette.types import Receive, Scope, Send

UI_DIST = Path(__file__).parent / "ui_dist"
# Paths that belong to the API side: unmatched ones are 404s, not the dashboard.
RESERVED_PREFIXES = ("/api/", "/docs", "/openapi.json", "/health", "/ready", "/metrics")
IMMUTABLE = "public, max-age=31536000, immutable"
COMPRESSIBLE = (".js", ".css", ".svg", ".json", ".map")


def is_reserved(path: str) -> bool:
    """True for paths the dashboard must never answer."""
    return path == "/api" or path.startswith(RESERVED_PREFIXES)


@cache
def _gzipped(path: Path) -> bytes:
    return gzip.compress(path.read_bytes(), compresslevel=6)


class Dashboard:
    """ASGI app serving the built dashboard with a single-page-app fallback."""

    def __init__(self, dist: Path) -> None:
        self.index = dist / "index.html"
        # Only files listed in the build directory are served: a request's path is looked up
        # among their names, never joined onto a directory.
        self.root_files = {
            p.name: p for p in dist.iterdir() if p.is_file() and p.name != "index.html"
        }
        self.assets_dir = dist / "assets"
        self.assets = self._list_assets()

    def _list_assets(self) -> dict[str, Path]:
        if not self.assets_dir.is_dir():
            return {}
        return {p.name: p for p in self.assets_dir.iterdir() if p.is_file()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1000})
            return
        path: str = scope["path"]
        if is_reserved(path):
            raise HTTPException(status_code=404)
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=405)
        response: Response
        if path.startswith("/assets/"):
            name = path.removeprefix("/assets/")
            if name not in self.assets:
                self.assets = self._list_assets()  # rebuilt while serving (make ui)
            asset = self.assets.get(name)
            if asset is None:
                raise HTTPException(status_code=404)
            response = self._asset(asset, Headers(scope=scope))
        elif (name := path.lstrip("/")) in self.root_files:
            response = FileResponse(self.root_files[name], headers={"cache-control": "no-cache"})
        else:
            response = FileResponse(self.index, headers={"cache-control": "no-cache"})
        await response(scope, receive, send)

    @staticmethod
    def _asset(asset: Path, request_headers: Headers) -> Response:
        media_type = mimetypes.guess_type(asset.name)[0] or "application/octet-stream"
        if asset.suffix == ".js":
            media_type = "text/javascript"
        headers = {"cache-control": IMMUTABLE, "vary": "accept-encoding"}
        accepts_gzip = "gzip" in request_headers.get("accept-encoding", "")
        if asset.suffix in COMPRESSIBLE and accepts_gzip:
            headers["content-encoding"] = "gzip"
            return Response(_gzipped(asset), media_type=media_type, headers=headers)
        return FileResponse(asset, media_type=media_type, headers=headers)


class NotBuilt:
    """Stands in when the dashboard was not built: `/` points at the API docs instead."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] in ("GET", "HEAD"):
            await RedirectResponse("/docs")(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})
            return
        raise HTTPException(status_code=404)


class DashboardMount(Mount):
    """Mounted at `/`, but never matching a reserved path: those route as if it were not there
    (an unknown API path is a 404, a known one with the wrong method a 405)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """No match for reserved paths; otherwise as a mount."""
        if scope["type"] in ("http", "websocket") and is_reserved(scope["path"]):
            return Match.NONE, {}
        return super().matches(scope)


def dashboard_mount(dist: Path | None = None) -> DashboardMount:
    """The route that serves the dashboard (add it last)."""
    return DashboardMount("/", app=dashboard_app(dist), name="dashboard")


def dashboard_app(dist: Path | None = None) -> Dashboard | NotBuilt:
    """The dashboard if it was built (`make ui`), else a redirect from `/` to the API docs."""
    dist = dist or UI_DIST
    if (dist / "index.html").is_file():
        return Dashboard(dist)
    return NotBuilt()
