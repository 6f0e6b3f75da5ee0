from __future__ import annotations

from datetime import timedelta

import pytest
from celery import Celery
from django.test import override_settings
from django.utils import timezone

from maestro import queue
from orchestration.health.selectors import health_snapshot, mc_core
from tests.factories import make_run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_workers")]


def unsequenced(tenant, seconds_ago):
    """A ledger intake row that nothing has chained for ``seconds_ago``."""
    from ledger.models import IntakeEntry
    from ledger.services import intake_prepare

    # Written with its old timestamp: intake rows cannot be edited once stored (migration 0004).
    entry = intake_prepare(tenant_id=tenant.pk, action_type="test.write", resource_type="test", resource_id="x",
                           actor_id="tests", actor_type="system", payload={}, metadata={},
                           timestamp=timezone.now() - timedelta(seconds=seconds_ago))
    IntakeEntry.objects.bulk_create([entry])


def failures(tenant, n, minutes_ago=5):
    for _ in range(n):
        make_run(tenant, status="failed", minutes_ago=minutes_ago)


@pytest.mark.parametrize("failed, score, status", [
    (0, 100, "healthy"), (5, 100, "healthy"), (6, 80, "degraded"), (15, 80, "degraded"), (16, 40, "degraded"),
    (100, 40, "degraded"),
])
def test_mc_core_keeps_the_old_rule_at_its_edges(tenant, failed, score, status):
    # given
    failures(tenant, failed)
    make_run(tenant, status="succeeded")

    # when
    ws = mc_core(tenant=tenant, now=timezone.now())

    # then: 80 is not "above 80", so 6-15 failures are degraded; the newest success takes one
    # of the 100 sampled places
    assert (ws["score"], ws["status"], ws["details"]["failedRunsLastHour"]) == (score, status, min(failed, 99))


def test_mc_core_ignores_failures_older_than_an_hour(tenant):
    # given
    failures(tenant, 10, minutes_ago=61)
    failures(tenant, 5, minutes_ago=59)

    # then
    assert mc_core(tenant=tenant, now=timezone.now())["score"] == 100


def test_mc_core_only_looks_at_the_latest_100_runs(tenant):
    # given: 10 recent failures, then 100 newer successes push them out of the sample
    failures(tenant, 10, minutes_ago=30)
    for _ in range(100):
        make_run(tenant, status="succeeded", minutes_ago=10)

    # then
    assert mc_core(tenant=tenant, now=timezone.now())["score"] == 100


def test_mc_core_counts_only_its_own_tenant(tenant, other_tenant):
    # given
    failures(other_tenant, 20)

    # then
    assert mc_core(tenant=tenant, now=timezone.now())["score"] == 100


def test_all_healthy_snapshot_has_no_alerts(tenant):
    # when
    snap = health_snapshot(tenant=tenant)

    # then
    assert snap["overallScore"] == 100
    assert [(w["name"], w["status"], w["score"]) for w in snap["workstreams"]] == [
        ("MC-Core", "healthy", 100), ("Workers", "healthy", 100), ("Ledger", "healthy", 100),
        ("Realtime", "healthy", 100)]
    assert snap["activeAlerts"] == []


def test_a_degraded_workstream_raises_one_alert_and_sets_the_overall_score(tenant):
    # given
    failures(tenant, 16)

    # when
    snap = health_snapshot(tenant=tenant)

    # then
    assert snap["overallScore"] == 40
    assert [(a["id"], a["title"], a["severity"], a["workstream"]) for a in snap["activeAlerts"]] == [
        ("alert-mc-core", "High failure rate in last hour: 16 failed runs", "critical", "MC-Core")]


def test_ledger_backlog_age_degrades_the_ledger_workstream(tenant):
    # given: nothing has chained these intake rows for 2 and 10 minutes
    old = timezone.now() - timedelta(minutes=10)
    unsequenced(tenant, 600)
    unsequenced(tenant, 120)

    # when
    ledger = next(w for w in health_snapshot(tenant=tenant)["workstreams"] if w["name"] == "Ledger")

    # then
    assert (ledger["status"], ledger["score"], ledger["details"]["backlog"]) == ("incident", 30, 2)
    assert ledger["details"]["oldestUnsequencedAgeSeconds"] >= (timezone.now() - old).total_seconds() - 5


@pytest.mark.parametrize("age_s, score, status", [(30, 100, "healthy"), (120, 70, "degraded"),
                                                   (400, 30, "incident")])
def test_ledger_lag_thresholds(tenant, age_s, score, status):
    # given
    unsequenced(tenant, age_s)

    # when
    snap = health_snapshot(tenant=tenant)

    # then
    ledger = next(w for w in snap["workstreams"] if w["name"] == "Ledger")
    assert (ledger["score"], ledger["status"]) == (score, status)
    assert [a["id"] for a in snap["activeAlerts"]] == ([] if status == "healthy" else ["alert-ledger"])


def test_a_locked_merge_train_is_an_incident(seeded):
    from orchestration.control.services.merge_trains import merge_train_set_status
    from tests.factories import SYSTEM

    # given
    merge_train_set_status(tenant=seeded, actor=SYSTEM, train_id="mt-main", status="locked")

    # when
    snap = health_snapshot(tenant=seeded)

    # then
    train = next(w for w in snap["workstreams"] if w["name"] == "MergeTrain")
    assert (train["status"], train["score"]) == ("incident", 30)
    assert [a["title"] for a in snap["activeAlerts"]] == ["Merge train mt-main is locked"]


@pytest.mark.redis
def test_with_a_broker_and_no_worker_the_workers_workstream_is_an_incident(tenant, monkeypatch):
    import redis
    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs the Redis broker")
    try:
        redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("Redis is not reachable")
    # given: a real broker that no worker consumes (a Redis database no Maestro process uses,
    # so a worker started by another test run cannot answer)

    # A Celery app of its own pings it: pointing Maestro's app there, even for a moment, leaves
    # its connection pools on that database, and later tests' jobs would be published where no
    # one reads them.
    idle = Celery("idle-broker", broker=settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/13")
    monkeypatch.setattr(queue, "app", idle)
    try:
        with override_settings(REDIS_URL=settings.CELERY_BROKER_URL):
            # when
            snap = health_snapshot(tenant=tenant)
    finally:
        idle.close()

    # then
    workers = next(w for w in snap["workstreams"] if w["name"] == "Workers")
    assert (workers["status"], workers["score"], workers["details"]["workers"]) == ("incident", 0, 0)
    assert "alert-workers" in [a["id"] for a in snap["activeAlerts"]]
    realtime = next(w for w in snap["workstreams"] if w["name"] == "Realtime")
    assert (realtime["status"], realtime["details"]["layer"]) == ("healthy", "redis")


def test_an_unreachable_channel_layer_is_a_realtime_incident(tenant):
    # given: nothing listens on port 1
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        # when
        snap = health_snapshot(tenant=tenant)

    # then
    realtime = next(w for w in snap["workstreams"] if w["name"] == "Realtime")
    assert (realtime["status"], realtime["score"], realtime["details"]["reachable"]) == ("incident", 0, False)
