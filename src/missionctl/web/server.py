"""uvicorn's server, taught to end Mission Control's live streams when it shuts down.

uvicorn waits for open requests before it stops, up to its graceful timeout; a live stream never
ends by itself, so every stream would hold shutdown for the whole timeout and then be cancelled
(a traceback each). This server first tells the app's event tail to end its streams (SSE streams
end, WebSockets close with 1012 "service restart"), and clients resume elsewhere from their last id.
"""

from __future__ import annotations

import gc
import socket
import sys
from typing import Any

import uvicorn

from missionctl.web.deps import AppState

STARTUP_FAILURE = 3  # uvicorn's own exit status when the server did not start
# What open requests get to finish at shutdown (live streams end at once, see above).
SHUTDOWN_SECONDS = 5


def server_config(app: Any, *, log_level: str, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for every Mission Control server process.

    No per-message compression on WebSockets: events are small and each goes to every stream,
    so compressing each copy (per connection, with its own context) costs more CPU than the
    bytes it saves.
    """
    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=log_level == "debug",
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
        ws_per_message_deflate=False,
        **options,
    )


def _app_state(app: Any) -> AppState | None:
    """Mission Control's state under uvicorn's wrappers (proxy headers, …), if it is there."""
    for _ in range(10):
        state = getattr(getattr(app, "state", None), "mission_control", None)
        if isinstance(state, AppState):
            return state
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


class Server(uvicorn.Server):
    """See module docstring."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does, then move everything that exists by now (modules, the app,
        its caches) out of the garbage collector's sight: a full collection then only walks
        what requests and streams create, a few ms instead of tens in the middle of a fan-out."""
        await super().startup(sockets)
        gc.collect()
        gc.freeze()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """End the live streams, then shut down as uvicorn does."""
        state = _app_state(getattr(self.config, "loaded_app", None))
        if state is not None:
            state.tail.close_streams()
        await super().shutdown(sockets)


def serve(config: uvicorn.Config, sockets: list[socket.socket] | None = None) -> None:
    """Run the server until it is told to stop (what `uvicorn.run` does, with our `Server`)."""
    server = Server(config)
    server.run(sockets=sockets)
    if not server.started:
        sys.exit(STARTUP_FAILURE)
