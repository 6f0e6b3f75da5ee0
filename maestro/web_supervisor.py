"""``bin/web`` with several processes: each with a listening socket of its own on the same port
(``SO_REUSEPORT``), so the kernel spreads connections over the processes evenly.

uvicorn's own supervisor hands every process one shared socket, and whichever process wakes
first accepts all the connections waiting (asyncio takes up to the backlog at a wake-up): 32
keep-alive connections opened together all landed on one of two processes in about one round
in four of ``bench/read_api.py``, which then served half the rate with one core idle
(docs/decisions.md 76). With a socket each, the kernel picks the process by the connection's
address hash.

The supervisor holds the port (bound, never listening, so it is handed no connection), starts
the processes, starts a new one when one dies, and on SIGTERM or SIGINT passes the signal on
and waits for them to finish what they serve (uvicorn's graceful shutdown)."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("maestro.web")

STOP_SECONDS = 30.0  # after SIGTERM: then the processes still running are killed


def available() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    """One web process: its own socket in the port's group, then uvicorn as ``serve`` runs it.
    The socket listens (joins the group the kernel spreads connections over) only once uvicorn
    serves on it, after the application has loaded: a process starting up, or replacing one that
    died, is handed no connection it would leave waiting for seconds."""
    import uvicorn

    sock = _socket(host, port)
    config = uvicorn.Config(host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


def supervise(host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    holder = _socket(host, port)  # fails here, at once, when the port is taken
    context = multiprocessing.get_context("spawn")
    stopping: list[int] = []

    def start() -> BaseProcess:
        process = context.Process(target=_worker, args=(host, port, options), name="maestro-web")
        process.start()
        return process

    def stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    processes = [start() for _ in range(workers)]
    log.info("web processes started", extra={"event": "web.started", "pids": [p.pid for p in processes],
                                              "port": port})
    try:
        while not stopping:
            time.sleep(0.5)
            for i, process in enumerate(processes):
                if not process.is_alive() and not stopping:
                    log.error("web process died; starting another", extra={
                        "event": "web.process_died", "pid": process.pid, "exitcode": process.exitcode})
                    processes[i] = start()
    finally:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        deadline = time.monotonic() + STOP_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        holder.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
