"""Several API processes on one port, each with its own SO_REUSEPORT socket.

uvicorn's own `--workers` shares one listening socket, and asyncio accepts every pending
connection at once, so one process takes all long-lived keep-alive connections and the others
idle. With a socket per process bound with SO_REUSEPORT, the kernel spreads connections across
the processes instead. The supervisor forwards SIGINT/SIGTERM and restarts a worker that dies.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import structlog

from missionctl.web.server import serve, server_config

APP = "missionctl.web.main:app_factory"
RESTART_DELAY_SECONDS = 1.0
log = structlog.get_logger("missionctl.workers")


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket bound with SO_REUSEPORT."""
    family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def serve_one(host: str, port: int, log_level: str) -> None:
    """One worker: its own socket, one uvicorn server (runs in a child process)."""
    sock = reuse_port_socket(host, port)
    serve(server_config(APP, factory=True, log_level=log_level), sockets=[sock])


def supervise(workers: int, host: str, port: int, log_level: str) -> None:
    """Run `workers` processes until SIGINT/SIGTERM; restart any that dies meanwhile."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> BaseProcess:
        process = context.Process(target=serve_one, args=(host, port, log_level), daemon=False)
        process.start()
        return process

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes in-flight requests

    # Fail here, once and clearly, when a server without SO_REUSEPORT already holds the port.
    reuse_port_socket(host, port).close()
    processes = [start() for _ in range(workers)]
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        for index, process in enumerate(processes):
            if not process.is_alive() and not stopping:
                log.warning("worker_died", pid=process.pid, exitcode=process.exitcode)
                time.sleep(RESTART_DELAY_SECONDS)
                processes[index] = start()
        time.sleep(0.2)
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
