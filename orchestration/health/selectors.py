"""The health snapshot, dashboard stats and SLOs of ``/api/maestro/`` — all measured, none
constant: each workstream asks its subsystem (runs, the job queue, the ledger, realtime, the
merge train) for its own status. Each workstream is ``{name, status, score, details}`` (``details`` is new: what was
measured). Scores are 0-100; ``overallScore`` is the lowest workstream score, so the system is
reported as healthy as its weakest part (with every other part healthy that is exactly the
old MC-Core rule's score). The shapes are the TypedDicts below; the OpenAPI document is derived
from them (no ``from __future__ import annotations``: see orchestration/work/representations.py)."""

import math
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict, cast

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client import REGISTRY

from ledger.status import tenant_backlog
from maestro.core.compiled import CompiledRead, CompiledValues
from maestro.core.wire import IsoTime, to_iso
from maestro.queue import workers_status
from maestro.tenancy.models import Tenant
from orchestration.control.models.loops import AutonomicLoop
from orchestration.control.models.merge_trains import MergeTrain
from orchestration.control.selectors.loops import loop_recent_decisions
from orchestration.runs.models import Run
from orchestration.work.models import Task
from realtime.status import layer_status, websocket_clients


class WorkstreamOut(TypedDict):
    name: str
    status: str
    score: int
    details: dict[str, Any]


class AlertOut(TypedDict):
    id: str
    title: str
    severity: str
    timestamp: IsoTime
    workstream: str


class HealthOut(TypedDict):
    overallScore: int
    workstreams: list[WorkstreamOut]
    activeAlerts: list[AlertOut]


class StatsOut(TypedDict):
    activeRuns: int
    completedRuns: int
    failedRuns: int
    totalRuns: int
    tasksPerMinute: float
    successRate: float
    queuedRuns: int
    cancelledRuns: int


class AutonomicOut(TypedDict):
    activeLoops: int
    totalLoops: int
    recentDecisions: list[str]


class DashboardOut(TypedDict):
    health: HealthOut
    stats: StatsOut
    autonomic: AutonomicOut


class SloOut(TypedDict):
    name: str
    target: float
    current: float
    errorBudget: float
    status: str
    window: str
    unit: str
    sampleSize: int


HEALTHY, DEGRADED, INCIDENT = "healthy", "degraded", "incident"
MC_CORE_WINDOW = timedelta(hours=1)
MC_CORE_SAMPLE = 100
LEDGER_LAG_DEGRADED_S = 60
LEDGER_LAG_INCIDENT_S = 300
LEDGER_BACKLOG_DEGRADED = 10_000


# The dashboard's reads, compiled once per process (maestro/core/compiled.py): building and
# compiling their QuerySets took longer than PostgreSQL took to answer them.
_MARK = -7_400_001  # a tenant id no tenant has
_SINCE = datetime(1901, 1, 1, tzinfo=UTC)  # a time no call passes
_LATEST_RUNS = CompiledValues(lambda tenant_id: Run.objects.filter(tenant_id=tenant_id).order_by("-created_at", "-id")
                              .values_list("status", "created_at")[:MC_CORE_SAMPLE], tenant_id=_MARK)
_FIRST_TRAIN: CompiledRead[MergeTrain] = CompiledRead(
    lambda tenant_id: MergeTrain.objects.filter(tenant_id=tenant_id).order_by("created_at", "id")[:1], tenant_id=_MARK)
_RUN_COUNTS = CompiledValues(
    lambda tenant_id: Run.objects.filter(tenant_id=tenant_id).order_by().values("tenant_id").annotate(
        total=Count("id"), running=Count("id", filter=Q(status=Run.Status.RUNNING)),
        queued=Count("id", filter=Q(status=Run.Status.QUEUED)),
        succeeded=Count("id", filter=Q(status=Run.Status.SUCCEEDED)),
        failed=Count("id", filter=Q(status=Run.Status.FAILED)),
        cancelled=Count("id", filter=Q(status=Run.Status.CANCELLED)),
    ).values_list("total", "running", "queued", "succeeded", "failed", "cancelled"), tenant_id=_MARK)
_TASKS_DONE_SINCE = CompiledValues(
    lambda tenant_id, since: Task.objects.filter(tenant_id=tenant_id, completed_at__gte=since).order_by()
    .values("tenant_id").annotate(n=Count("pk")).values_list("n"), tenant_id=_MARK, since=_SINCE)
_LOOP_COUNTS = CompiledValues(
    lambda tenant_id: AutonomicLoop.objects.filter(tenant_id=tenant_id).order_by().values("tenant_id")
    .annotate(total=Count("id"), active=Count("id", filter=Q(status="active"))).values_list("total", "active"),
    tenant_id=_MARK)


def _status(score: int) -> str:
    return HEALTHY if score > 80 else DEGRADED if score > 40 else INCIDENT


def mc_core(*, tenant: Tenant, now: datetime) -> dict[str, Any]:
    """The old rule: among the latest 100 runs, those failed in the last hour: more than 5 →
    −20, more than 15 → −40 more. Healthy only *above* 80: 0-5 failures → 100 healthy;
    6-15 → 80 degraded (80 is not above 80); 16+ → 40 degraded."""
    latest = _LATEST_RUNS.rows(tenant_id=tenant.pk)
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


def ledger(*, tenant: Tenant) -> dict[str, Any]:
    """The sequencer's backlog (asked of the ledger): lag over 60 s is degraded, over 300 s an
    incident, a backlog over 10,000 entries degraded."""
    backlog = tenant_backlog(tenant_id=tenant.pk)
    lag = backlog["oldestUnsequencedAgeSeconds"]
    score = 100 if lag <= LEDGER_LAG_DEGRADED_S else 70 if lag <= LEDGER_LAG_INCIDENT_S else 30
    if backlog["backlog"] > LEDGER_BACKLOG_DEGRADED:
        score = min(score, 70)
    reason = f"ledger sequencing backlog: {backlog['backlog']} entries, oldest {int(lag)} s old"
    return {"name": "Ledger", "status": _status(score), "score": score, "details": backlog, "_alert": reason}


def workers() -> dict[str, Any]:
    """Whether workers answer (asked of the job queue; in the embedded default the committing
    process runs the jobs, so it is alive by definition)."""
    details = workers_status()
    score = 100 if details["workers"] > 0 else 0
    return {"name": "Workers", "status": _status(score), "score": score, "details": details,
            "_alert": "No Celery worker answered a ping" + (f" ({details['error']})" if "error" in details else "")}


def realtime() -> dict[str, Any]:
    """Delivery needs the channel layer (asked of realtime); connected WebSocket clients are
    this process's."""
    details = {**layer_status(), "websocketClients": websocket_clients()}
    score = 100 if details["reachable"] else 0
    return {"name": "Realtime", "status": _status(score), "score": score, "details": details,
            "_alert": "Channel layer unreachable: events are stored but not broadcast"}


def merge_train(*, tenant: Tenant) -> dict[str, Any] | None:
    """The default train: active → 100, paused → 70 (merges wait), locked → 30 (blocked)."""
    trains = _FIRST_TRAIN.rows(tenant_id=tenant.pk)
    if not trains:
        return None
    train = trains[0]
    scores: dict[str, int] = {MergeTrain.Status.ACTIVE: 100, MergeTrain.Status.PAUSED: 70}
    score = scores.get(train.status, 30)
    return {"name": "MergeTrain", "status": _status(score), "score": score,
            "details": {"train": train.slug, "trainStatus": train.status},
            "_alert": f"Merge train {train.slug} is {train.status}"}


def health_snapshot(*, tenant: Tenant, now: datetime | None = None) -> HealthOut:
    now = now or timezone.now()
    streams = [mc_core(tenant=tenant, now=now), workers(), ledger(tenant=tenant), realtime()]
    train = merge_train(tenant=tenant)
    if train is not None:
        streams.append(train)
    alerts: list[AlertOut] = []
    for ws in streams:
        if ws["status"] != HEALTHY:
            alerts.append({"id": f"alert-{ws['name'].lower()}", "title": ws["_alert"],
                           "severity": ws.get("_severity") or ("critical" if ws["status"] == INCIDENT else "warning"),
                           "timestamp": to_iso(now), "workstream": ws["name"]})
    public: list[WorkstreamOut] = [{"name": ws["name"], "status": ws["status"], "score": ws["score"],
                                    "details": ws["details"]} for ws in streams]
    return {"overallScore": min(ws["score"] for ws in public), "workstreams": public, "activeAlerts": alerts}


def dashboard_stats(*, tenant: Tenant, now: datetime | None = None) -> StatsOut:
    """Counted over all the tenant's runs in one aggregate. ``successRate`` = succeeded /
    (succeeded + failed) × 100 (100 with none finished); ``tasksPerMinute`` = tasks
    completed in the last hour / 60."""
    now = now or timezone.now()
    c = dict(zip(("total", "running", "queued", "succeeded", "failed", "cancelled"),
                 _RUN_COUNTS.first((0,) * 6, tenant_id=tenant.pk), strict=True))
    finished = c["succeeded"] + c["failed"]
    (done_last_hour,) = _TASKS_DONE_SINCE.first((0,), tenant_id=tenant.pk, since=now - timedelta(hours=1))
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


def dashboard(*, tenant: Tenant) -> DashboardOut:
    now = timezone.now()
    loops = dict(zip(("total", "active"), _LOOP_COUNTS.first((0, 0), tenant_id=tenant.pk), strict=True))
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


def slo_snapshot(*, tenant: Tenant, now: datetime | None = None) -> list[SloOut]:
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
    slos: list[SloOut] = [
        {"name": "Run availability", "target": availability_target, "current": current, "errorBudget": budget,
         "status": _slo_status(current < availability_target, budget), "window": "24h", "unit": "%",
         "sampleSize": n}]

    latency_target = float(getattr(settings, "MAESTRO_SLO_RUN_P95_MS", 300_000))
    timed = finished.filter(status=Run.Status.SUCCEEDED, duration_ms__isnull=False)
    m = timed.count()
    ordered = timed.order_by("duration_ms").values_list("duration_ms", flat=True)
    p95 = float(cast(int, ordered[math.ceil(0.95 * m) - 1])) if m else 0.0  # null durations are filtered out
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
