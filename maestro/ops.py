"""Liveness and readiness. /healthz never touches a dependency; /readyz names the failing one."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

STARTED = time.time()


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def legacy_health(request: HttpRequest) -> JsonResponse:
    # The old server's shape: {status, timestamp (ms), uptime (s)}.
    return JsonResponse({"status": "ok", "timestamp": int(time.time() * 1000), "uptime": time.time() - STARTED})


def _check_database() -> str | None:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return None


def _check_migrations() -> str | None:
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return f"{len(pending)} migration(s) not applied" if pending else None


def _check_redis() -> str | None:
    if not settings.REDIS_URL:
        return None  # embedded default: in-process channel layer and queue
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return None


def _check_broker() -> str | None:
    if not settings.REDIS_URL:
        return None
    from maestro.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return None


CHECKS = {"database": _check_database, "migrations": _check_migrations, "redis": _check_redis,
          "broker": _check_broker}


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    failing = []
    for name, check in CHECKS.items():
        try:
            problem = check()
        except Exception as exc:  # a readiness probe reports, it does not crash
            problem = f"{type(exc).__name__}: {exc}"
        results[name] = problem or "ok"
        if problem:
            failing.append(name)
    if failing:
        return JsonResponse({"error": True, "code": "NOT_READY", "message": f"not ready: {', '.join(failing)}",
                             "details": {"checks": results, "failing": failing}}, status=503)
    return JsonResponse({"status": "ready", "checks": results})
