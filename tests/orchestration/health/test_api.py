"""/api/maestro/health, /dashboard and /slo."""

from __future__ import annotations

import pytest

from tests.factories import make_run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_workers")]


def failures(tenant, n, minutes_ago=5):
    for _ in range(n):
        make_run(tenant, status="failed", minutes_ago=minutes_ago)


def test_health_endpoint_shape(api_client, tenant):
    # given
    failures(tenant, 6)

    # when
    r = api_client.get("/api/maestro/health")

    # then
    body = r.json()
    assert r.status_code == 200
    assert set(body) == {"overallScore", "workstreams", "activeAlerts"}
    assert body["overallScore"] == 80
    assert all(set(w) == {"name", "status", "score", "details"} for w in body["workstreams"])
    alert = body["activeAlerts"][0]
    assert set(alert) == {"id", "title", "severity", "timestamp", "workstream"}
    assert alert["severity"] == "warning"
    assert alert["timestamp"].endswith("Z")


def test_dashboard_is_computed_from_runs_tasks_and_loops(api_client, seeded):
    from tests.factories import make_project, make_task

    # given
    for status, n in (("running", 2), ("succeeded", 6), ("failed", 2), ("queued", 1), ("cancelled", 1)):
        for _ in range(n):
            make_run(seeded, status=status)
    project = make_project(seeded)
    from orchestration.work.services.tasks import task_update
    from tests.factories import SYSTEM
    for n in range(3):
        task = make_task(seeded, project, title=f"t{n}")
        task_update(tenant=seeded, task_id=task.id, actor=SYSTEM, changes={"status": "completed"})

    # when
    r = api_client.get("/api/maestro/dashboard")

    # then
    body = r.json()
    assert body["stats"] == {"activeRuns": 2, "completedRuns": 6, "failedRuns": 2, "totalRuns": 12,
                             "tasksPerMinute": 0.05, "successRate": 75.0, "queuedRuns": 1, "cancelledRuns": 1}
    assert body["autonomic"] == {
        "activeLoops": 2, "totalLoops": 3,
        "recentDecisions": ["Shifted 20% traffic to Haiku for non-critical tasks",
                            "Quarantined node agent-worker-3 due to high error rate",
                            "Blocked 2 prompts for PII violation"]}
    assert body["health"]["overallScore"] == 100


def test_dashboard_with_no_runs(api_client, tenant):
    # when
    stats = api_client.get("/api/maestro/dashboard").json()["stats"]

    # then
    assert (stats["totalRuns"], stats["successRate"], stats["tasksPerMinute"]) == (0, 100.0, 0.0)


def test_slo_snapshot_from_runs(api_client, tenant):
    # given: 99 successes (1 s .. 99 s) and 2 failures in the last day
    for n in range(1, 100):
        make_run(tenant, status="succeeded", duration_ms=n * 1000, minutes_ago=30)
    make_run(tenant, status="failed", minutes_ago=30)
    make_run(tenant, status="failed", minutes_ago=30)
    make_run(tenant, status="failed", minutes_ago=60 * 25)  # outside the window

    # when
    r = api_client.get("/api/maestro/slo")

    # then
    slos = {s["name"]: s for s in r.json()}
    assert list(slos) == ["Run availability", "Run latency p95", "API availability"]
    availability = slos["Run availability"]
    assert (availability["target"], availability["current"], availability["sampleSize"]) == (99.0, 98.02, 101)
    assert (availability["errorBudget"], availability["status"]) == (0.0, "breached")
    latency = slos["Run latency p95"]
    assert (latency["current"], latency["target"], latency["status"], latency["unit"]) == (95000.0, 300000.0,
                                                                                         "healthy", "ms")
    assert latency["errorBudget"] == 100.0
    assert set(slos["API availability"]) == {"name", "target", "current", "errorBudget", "status", "window", "unit",
                                             "sampleSize"}


def test_slo_with_no_runs_is_healthy(api_client, tenant):
    # when
    slos = api_client.get("/api/maestro/slo").json()

    # then
    assert [(s["current"], s["errorBudget"], s["status"]) for s in slos[:2]] == [(100.0, 100.0, "healthy"),
                                                                                (0.0, 100.0, "healthy")]
