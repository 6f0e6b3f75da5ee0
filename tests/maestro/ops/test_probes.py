
from django.test import Client

from maestro.policy.bundle import bundle_load
from tests.support.jobs import celery_eager


def test_healthz_and_legacy_health(db):
    c = Client()
    assert c.get("/healthz").json() == {"status": "ok"}
    body = c.get("/health").json()
    assert body["status"] == "ok" and isinstance(body["timestamp"], int) and body["uptime"] >= 0


def test_readyz_reports_each_check(db, settings):
    r = Client().get("/readyz")
    assert r.status_code == 200
    expected = "ok" if settings.REDIS_URL else "in-process"
    from maestro.celery import app

    assert r.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok", "redis": expected,
                                                      "broker": "in-process" if app.conf.task_always_eager
                                                      else "ok", "policy": f"ok (embedded, {bundle_load().revision})"}}


def test_readyz_says_in_process_for_what_the_embedded_default_replaces(db, settings):
    # given: no Redis configured, jobs run in-process
    settings.REDIS_URL = ""
    # when
    with celery_eager(True):
        r = Client().get("/readyz")
    # then
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "migrations": "ok", "redis": "in-process", "broker": "in-process",
                                  "policy": f"ok (embedded, {bundle_load().revision})"}


def test_readyz_names_the_failing_check(db, settings):
    # given: Redis configured where nothing listens
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    # when
    r = Client().get("/readyz")
    # then
    assert r.status_code == 503
    body = r.json()
    assert body["code"] == "NOT_READY"
    assert "redis" in body["details"]["failing"] and "database" not in body["details"]["failing"]
    assert body["details"]["checks"]["redis"].startswith("ConnectionError")
    assert body["message"] == f"not ready: {', '.join(body['details']['failing'])}"
