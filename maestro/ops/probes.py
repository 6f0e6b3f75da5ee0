"""Liveness and readiness. /healthz never touches a dependency; /readyz names the failing one."""

from __future__ import annotations

import time

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from maestro.policy.engine import policy_check
from maestro.queue import broker_check
from realtime.status import layer_check

STARTED = time.time()


@require_safe  # GET and HEAD: load balancers probe with either
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_safe
def legacy_health(request: HttpRequest) -> JsonResponse:
    # The old server's shape: {status, timestamp (ms), uptime (s)}.
    return JsonResponse({"status": "ok", "timestamp": int(time.time() * 1000), "uptime": time.time() - STARTED})


# Each check returns its state when ready ("ok", or "in-process" for a dependency the
# embedded default replaces by an in-process one) and raises when not.


class NotReady(Exception):
    pass


def _check_database() -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return "ok"


def pending_migrations() -> int:
    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def _check_migrations() -> str:
    if pending := pending_migrations():
        raise NotReady(f"{pending} migration(s) not applied")
    return "ok"


# Each subsystem answers for itself: the channel layer (realtime), the job queue, and the
# policy engine (a run's start and each step are denied while it cannot answer).
CHECKS = {"database": _check_database, "migrations": _check_migrations, "redis": layer_check,
          "broker": broker_check, "policy": policy_check}


@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    failing = []
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except NotReady as exc:
            results[name] = str(exc)
            failing.append(name)
        except Exception as exc:  # a readiness probe reports, it does not crash
            results[name] = f"{type(exc).__name__}: {exc}"
            failing.append(name)
    if failing:
        return JsonResponse({"error": True, "code": "NOT_READY", "message": f"not ready: {', '.join(failing)}",
                             "details": {"checks": results, "failing": failing}}, status=503)
    return JsonResponse({"status": "ready", "checks": results})
