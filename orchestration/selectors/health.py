"""The health snapshot, dashboard stats and SLOs of ``/api/maestro/`` — all measured, none
constant. Each workstream is ``{name, status, score, details}`` (``details`` is new: what was
measured). Scores are 0-100; ``overallScore`` is the lowest workstream score, so the system is
reported as healthy as its weakest part (with every other part healthy that is exactly the
old MC-Core rule's score)."""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from orchestration.models import MergeTrain, Run, Task
from orchestration.representations_control import iso
from orchestration.selectors.loops import loop_list, loop_recent_decisions

HEALTHY, DEGRADED, INCIDENT = "healthy", "degraded", "incident"
MC_CORE_WINDOW = timedelta(hours=1)
MC_CORE_SAMPLE = 100
LEDGER_LAG_DEGRADED_S = 60
LEDGER_LAG_INCIDENT_S = 300
LEDGER_BACKLOG_DEGRADED = 10_000
WORKER_PROBE_TTL_S = 15.0
WORKER_PROBE_TIMEOUT_S = 1.0


def _status(score: int) -> str:
    return HEALTHY if score > 80 else DEGRADED if score > 40 else INCIDENT


def mc_core(*, tenant: Any, now: datetime) -> dict[str, Any]:
    """The old rule: among the latest 100 runs, those failed in the last hour: more than 5 →
    −20, more than 15 → −40 more. Healthy only *above* 80: 0-5 failures → 100 healthy;
    6-15 → 80 degraded (80 is not above 80); 16+ → 40 degraded."""
    latest = list(Run.objects.filter(tenant=tenant).order_by("-created_at", "-id")
                  .values_list("status", "created_at")[:MC_CORE_SAMPLE])
    since = now - MC_CORE_WINDOW
    failures = sum(1 for status, created in latest if status == Run.Status.FAILED and created > since)
    score = 100
    if failures > 5:
        score -= 20
    if failures > 15:
        score -= 40
    score = max(0, score)
    return {"name": "MC-Core", "status": HEALTHY if score > 80 else DEGRADED, "score": score,
            "details": {"failedRunsLastHour": failures, "sampledRuns": len(latest)},
            "_alert": f"High failure rate in last hour: {failures} failed runs" if score <= 80 else None,
            "_severity": "critical" if score <= 40 else "warning"}


def ledger(*, tenant: Any, now: datetime) -> dict[str, Any]:
    """Sequencer backlog: intake rows not yet chained (the intake table holds only those)
    and the age of the oldest. Lag over 60 s is degraded, over 300 s an incident."""
    from ledger.models import IntakeEntry

    agg = IntakeEntry.objects.filter(tenant=tenant).aggregate(n=Count("pk_id"))
    oldest = (IntakeEntry.objects.filter(tenant=tenant).order_by("pk_id").values_list("timestamp", flat=True).first())
    lag = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    backlog = agg["n"]
    score = 100 if lag <= LEDGER_LAG_DEGRADED_S else 70 if lag <= LEDGER_LAG_INCIDENT_S else 30
    if backlog > LEDGER_BACKLOG_DEGRADED:
        score = min(score, 70)
    reason = f"ledger sequencing backlog: {backlog} entries, oldest {int(lag)} s old"
    return {"name": "Ledger", "status": _status(score), "score": score,
            "details": {"backlog": backlog, "oldestUnsequencedAgeSeconds": round(lag, 3)}, "_alert": reason}


_probe_lock = threading.Lock()
_probe_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def _cached(key: str, probe: Any) -> dict[str, Any]:
    """Probes that touch the network are cached per process for a few seconds, so a busy
    dashboard does not ping the broker on every request."""
    with _probe_lock:
        hit = _probe_cache.get(key)
        if hit and time.monotonic() - hit[0] < WORKER_PROBE_TTL_S:
            return hit[1]
    result = probe()
    with _probe_lock:
        _probe_cache[key] = (time.monotonic(), result)
    return result


def reset_probe_cache() -> None:
    with _probe_lock:
        _probe_cache.clear()


def _ping_workers() -> dict[str, Any]:
    from maestro.celery import app

    try:
        with app.connection_for_write() as conn:
            replies = app.control.ping(timeout=WORKER_PROBE_TIMEOUT_S, connection=conn) or []
    except Exception as exc:  # an unreachable broker is a finding, not a crash
        return {"mode": "broker", "workers": 0, "error": type(exc).__name__}
    return {"mode": "broker", "workers": len(replies)}


def workers() -> dict[str, Any]:
    """In the embedded default jobs run in-process right after commit (eager): the web
    process is the worker, so it is alive by definition. With a broker: Celery ``ping``."""
    from maestro.celery import app

    if app.conf.task_always_eager:
        details: dict[str, Any] = {"mode": "eager", "workers": 1}
    else:
        details = _cached("workers", _ping_workers)
    score = 100 if details["workers"] > 0 else 0
    return {"name": "Workers", "status": _status(score), "score": score, "details": details,
            "_alert": "No Celery worker answered a ping" + (f" ({details['error']})" if "error" in details else "")}


def _ping_redis() -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        client.ping()
        return {"layer": "redis", "reachable": True}
    except Exception as exc:
        return {"layer": "redis", "reachable": False, "error": type(exc).__name__}
    finally:
        client.close()


def realtime() -> dict[str, Any]:
    """Delivery needs the channel layer: Redis reachable (or the in-process layer of the
    embedded default). Connected WebSocket clients are this process's gauge."""
    from realtime.metrics import WS_CLIENTS

    details = _cached("realtime", _ping_redis) if settings.REDIS_URL else {"layer": "in-memory", "reachable": True}
    details = {**details, "websocketClients": int(WS_CLIENTS._value.get())}
    score = 100 if details["reachable"] else 0
    return {"name": "Realtime", "status": _status(score), "score": score, "details": details,
            "_alert": "Channel layer unreachable: events are stored but not broadcast"}


def merge_train(*, tenant: Any) -> dict[str, Any] | None:
    """The default train: active → 100, paused → 70 (merges wait), locked → 30 (blocked)."""
    train = MergeTrain.objects.filter(tenant=tenant).order_by("created_at", "id").first()
    if train is None:
        return None
    score = {MergeTrain.Status.ACTIVE: 100, MergeTrain.Status.PAUSED: 70}.get(train.status, 30)
    return {"name": "MergeTrain", "status": _status(score), "score": score,
            "details": {"train": train.slug, "trainStatus": train.status},
            "_alert": f"Merge train {train.slug} is {train.status}"}


def health_snapshot(*, tenant: Any, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    streams = [mc_core(tenant=tenant, now=now), workers(), ledger(tenant=tenant, now=now), realtime()]
    train = merge_train(tenant=tenant)
    if train is not None:
        streams.append(train)
    alerts = []
    for ws in streams:
        if ws["status"] != HEALTHY:
            alerts.append({"id": f"alert-{ws['name'].lower()}", "title": ws["_alert"],
                           "severity": ws.get("_severity") or ("critical" if ws["status"] == INCIDENT else "warning"),
                           "timestamp": iso(now), "workstream": ws["name"]})
    public = [{k: v for k, v in ws.items() if not k.startswith("_")} for ws in streams]
    return {"overallScore": min(ws["score"] for ws in public), "workstreams": public, "activeAlerts": alerts}


def dashboard_stats(*, tenant: Any, now: datetime | None = None) -> dict[str, Any]:
    """Counted over all the tenant's runs in one aggregate. ``successRate`` = succeeded /
    (succeeded + failed) × 100 (100 with none finished); ``tasksPerMinute`` = tasks
    completed in the last hour / 60."""
    now = now or timezone.now()
    c = Run.objects.filter(tenant=tenant).aggregate(
        total=Count("id"), running=Count("id", filter=Q(status=Run.Status.RUNNING)),
        queued=Count("id", filter=Q(status=Run.Status.QUEUED)),
        succeeded=Count("id", filter=Q(status=Run.Status.SUCCEEDED)),
        failed=Count("id", filter=Q(status=Run.Status.FAILED)),
        cancelled=Count("id", filter=Q(status=Run.Status.CANCELLED)))
    finished = c["succeeded"] + c["failed"]
    done_last_hour = Task.objects.filter(tenant=tenant, completed_at__gte=now - timedelta(hours=1)).count()
    return {
        "activeRuns": c["running"],
        "completedRuns": c["succeeded"],
        "failedRuns": c["failed"],
        "totalRuns": c["total"],
        "tasksPerMinute": round(done_last_hour / 60, 2),
        "successRate": round(c["succeeded"] / finished * 100, 2) if finished else 100.0,
        "queuedRuns": c["queued"],
        "cancelledRuns": c["cancelled"],
    }


def dashboard(*, tenant: Any) -> dict[str, Any]:
    now = timezone.now()
    loops = loop_list(tenant=tenant).aggregate(total=Count("id"), active=Count("id", filter=Q(status="active")))
    return {
        "health": health_snapshot(tenant=tenant, now=now),
        "stats": dashboard_stats(tenant=tenant, now=now),
        "autonomic": {"activeLoops": loops["active"], "totalLoops": loops["total"],
                      "recentDecisions": loop_recent_decisions(tenant=tenant, limit=5)},
    }


def _budget(allowed: float, used: int) -> float:
    if allowed <= 0:
        return 100.0 if used == 0 else 0.0
    return round(max(0.0, min(100.0, (allowed - used) / allowed * 100)), 2)


def _slo_status(breached: bool, budget: float) -> str:
    return "breached" if breached else "risk" if budget < 25 else "healthy"


def slo_snapshot(*, tenant: Any, now: datetime | None = None) -> list[dict[str, Any]]:
    """SLOSnapshot[] ``{name, target, current, errorBudget, status}`` (+ window, unit,
    sampleSize). errorBudget = % of the allowed bad events still unspent."""
    now = now or timezone.now()
    window = timedelta(hours=24)
    finished = Run.objects.filter(tenant=tenant, completed_at__gte=now - window)
    counts = finished.aggregate(ok=Count("id", filter=Q(status=Run.Status.SUCCEEDED)),
                                bad=Count("id", filter=Q(status=Run.Status.FAILED)))
    n = counts["ok"] + counts["bad"]
    availability_target = float(getattr(settings, "MAESTRO_SLO_RUN_AVAILABILITY", 99.0))
    current = round(counts["ok"] / n * 100, 3) if n else 100.0
    budget = _budget((1 - availability_target / 100) * n, counts["bad"])
    slos = [{"name": "Run availability", "target": availability_target, "current": current, "errorBudget": budget,
             "status": _slo_status(current < availability_target, budget), "window": "24h", "unit": "%",
             "sampleSize": n}]

    latency_target = float(getattr(settings, "MAESTRO_SLO_RUN_P95_MS", 300_000))
    timed = finished.filter(status=Run.Status.SUCCEEDED, duration_ms__isnull=False)
    m = timed.count()
    ordered = timed.order_by("duration_ms").values_list("duration_ms", flat=True)
    p95 = float(ordered[math.ceil(0.95 * m) - 1]) if m else 0.0
    slow = timed.filter(duration_ms__gt=latency_target).count()
    budget = _budget(0.05 * m, slow)
    slos.append({"name": "Run latency p95", "target": latency_target, "current": p95, "errorBudget": budget,
                 "status": _slo_status(p95 > latency_target, budget), "window": "24h", "unit": "ms",
                 "sampleSize": m})

    total, errors = _http_responses()
    api_target = float(getattr(settings, "MAESTRO_SLO_API_AVAILABILITY", 99.9))
    current = round((total - errors) / total * 100, 3) if total else 100.0
    budget = _budget((1 - api_target / 100) * total, errors)
    slos.append({"name": "API availability", "target": api_target, "current": current, "errorBudget": budget,
                 "status": _slo_status(current < api_target, budget), "window": "process", "unit": "%",
                 "sampleSize": total})
    return slos


def _http_responses() -> tuple[int, int]:
    """(responses, 5xx responses) served by this process, from the Prometheus counters."""
    from prometheus_client import REGISTRY

    total = errors = 0
    for family in REGISTRY.collect():
        if family.name != "django_http_responses_total_by_status":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            value = int(sample.value)
            total += value
            if str(sample.labels.get("status", "")).startswith("5"):
                errors += value
    return total, errors
