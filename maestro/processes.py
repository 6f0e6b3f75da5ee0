"""The production command of each process (DESIGN §4.3): ``bin/web``, ``bin/worker`` and
``bin/scheduler`` run ``python3 -m maestro.processes web|worker|scheduler``. They use the
Python environment they are started in and install nothing; configuration comes from the
environment (docs/operations.md). A configuration error is one line on stderr, exit status 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from django.conf import LazySettings
from django.core.exceptions import ImproperlyConfigured

from maestro.queue import Queue, all_queues, queue_name


def _settings() -> LazySettings:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maestro.settings")
    from django.conf import settings

    settings.INSTALLED_APPS  # noqa: B018 — load (and check) the settings now, not inside a server
    return settings


def _migrated() -> None:
    """Refuses to serve a database the code's migrations have not been applied to (the release
    step runs ``python3 manage.py migrate`` first): one clear line instead of a 500 per request."""
    import django

    django.setup()
    from django.db import connections

    from maestro.ops.probes import pending_migrations

    try:
        pending = pending_migrations()
    finally:
        connections.close_all()  # not inherited by the server's worker processes
        for connection in connections.all(initialized_only=True):
            # nor is the pool kept: the server's own connections are made once tracing has
            # instrumented psycopg (maestro.tracing), so that its queries are traced
            close_pool = getattr(connection, "close_pool", None)
            if close_pool is not None:
                close_pool()
    if pending:
        raise ImproperlyConfigured(f"the database is not migrated ({pending} migration(s) pending): "
                                   "run python3 manage.py migrate")


def serve(*, host: str, port: int, workers: int) -> None:
    """The ASGI server, logging through Maestro's LOGGING (JSON lines, credentials redacted)."""
    import uvicorn
    from django.conf import settings

    from maestro import web_supervisor

    # The lifespan messages only tell the application to export its last spans at shutdown
    # (maestro.tracing.FlushedAtShutdown).
    options: dict[str, Any] = {
        "app": "maestro.asgi:application", "lifespan": "on", "log_config": settings.LOGGING, "proxy_headers": True,
        "forwarded_allow_ips": settings.MAESTRO_FORWARDED_ALLOW_IPS}
    if workers > 1 and web_supervisor.available():
        # a listening socket per process, so connections spread evenly (maestro.web_supervisor)
        web_supervisor.supervise(host, port, workers, options)
    else:
        uvicorn.run(host=host, port=port, workers=workers, **options)


def web(argv: list[str]) -> None:
    """HTTP and WebSocket on MAESTRO_HOST:MAESTRO_PORT, in MAESTRO_WEB_WORKERS processes."""
    settings = _settings()
    _migrated()
    serve(host=settings.MAESTRO_HOST, port=settings.MAESTRO_PORT, workers=settings.MAESTRO_WEB_WORKERS)


def worker(argv: list[str]) -> None:
    """Celery workers for the jobs (workflow steps, ledger sequencing, periodic work); extra
    arguments go to ``celery worker``. Consumes every queue, or the kinds named in
    ``MAESTRO_WORKER_QUEUES`` (``sequencer,periodic``), or Celery's own ``-Q``."""
    settings = _settings()
    if not settings.REDIS_URL:
        raise ImproperlyConfigured("bin/worker needs MAESTRO_REDIS_URL (without it, jobs run inside the web "
                                   "process and there is no worker to start)")
    queues = worker_queue_args(argv)
    _migrated()
    from maestro.celery import app

    app.worker_main(["worker", "--loglevel", settings.MAESTRO_LOG_LEVEL,
                     "--concurrency", str(settings.MAESTRO_WORKER_CONCURRENCY), *queues, *argv])


def worker_queue_args(argv: list[str]) -> list[str]:
    """The ``--queues`` a worker is started with: none when ``argv`` names its own (``-Q``),
    else the kinds in ``MAESTRO_WORKER_QUEUES``, else all of them."""
    if any(a in ("-Q", "--queues") or a.startswith(("-Q", "--queues=")) for a in argv):
        return []
    kinds = [k.strip() for k in os.environ.get("MAESTRO_WORKER_QUEUES", "").split(",") if k.strip()]
    known = {str(kind) for kind in Queue}
    for kind in kinds:
        if kind not in known:
            raise ImproperlyConfigured(f"MAESTRO_WORKER_QUEUES: unknown queue {kind!r} (one or more of "
                                       f"{', '.join(sorted(known))}, comma-separated)")
    return ["--queues", ",".join([queue_name(Queue(k)) for k in kinds] if kinds else all_queues())]


def scheduler(argv: list[str]) -> None:
    """The scheduler: one leader enqueues the periodic jobs, the others stand by."""
    _settings()
    import django

    django.setup()
    from django.core.management import call_command

    from maestro import tracing

    tracing.configure(tracing.SCHEDULER)

    call_command("maestro_scheduler", *argv)


PROCESSES: dict[str, Callable[[list[str]], None]] = {"web": web, "worker": worker, "scheduler": scheduler}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in PROCESSES:
        sys.exit(f"usage: python3 -m maestro.processes {{{'|'.join(PROCESSES)}}} [args]")
    try:
        PROCESSES[args[0]](args[1:])
    except ImproperlyConfigured as exc:
        print(f"maestro: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
