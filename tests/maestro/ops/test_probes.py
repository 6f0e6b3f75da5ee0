import json
import logging

from django.test import Client

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
                                                      else "ok"}}


def test_readyz_says_in_process_for_what_the_embedded_default_replaces(db, settings):
    # given: no Redis configured, jobs run in-process
    settings.REDIS_URL = ""
    # when
    with celery_eager(True):
        r = Client().get("/readyz")
    # then
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "migrations": "ok", "redis": "in-process", "broker": "in-process"}


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


def test_metrics_exposes_prometheus_text(db):
    r = Client().get("/metrics")
    assert r.status_code == 200
    assert b"django_http_requests_latency_seconds_by_view_method" in r.content


def test_request_id_is_echoed_and_logged(db, api_client, caplog):
    caplog.set_level(logging.INFO)
    r = api_client.post("/api/projects", {"name": "x"}, format="json", HTTP_X_REQUEST_ID="req-abc-123")
    assert r["X-Request-ID"] == "req-abc-123"
    from maestro.write_path.models import AuditEvent

    assert AuditEvent.objects.get(action="project.create").request_id == "req-abc-123"


def test_json_log_line_carries_request_id():
    from pythonjsonlogger.json import JsonFormatter

    from maestro.core.context import bound_request_id
    from maestro.logging import RequestIdFilter

    record = logging.LogRecord("maestro", logging.INFO, __file__, 1, "run started", None, None)
    with bound_request_id("rid-42"):
        RequestIdFilter().filter(record)
    line = JsonFormatter("%(levelname)s %(name)s %(message)s %(request_id)s").format(record)
    assert json.loads(line) == {"levelname": "INFO", "name": "maestro", "message": "run started",
                                "request_id": "rid-42"}


def test_openapi_schema_and_docs(api_client):
    r = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200
    paths = json.loads(r.content)["paths"]
    for p in ["/api/projects", "/api/tasks/{task_id}", "/api/sessions/spawn"]:
        assert p in paths
    assert api_client.get("/api/docs/").status_code == 200


def test_metrics_report_queue_depth_from_the_broker(db, settings):
    import redis

    if not settings.REDIS_URL:
        import pytest

        pytest.skip("needs Redis")
    settings.MAESTRO_METRIC_QUEUES = ["maestro-test-depth"]
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("maestro-test-depth")
    client.rpush("maestro-test-depth", "a", "b", "c")
    try:
        r = Client().get("/metrics")
        assert b'maestro_queue_depth{queue="maestro-test-depth"} 3.0' in r.content
    finally:
        client.delete("maestro-test-depth")


def test_celery_job_carries_the_request_id(db):
    from maestro.celery import REQUEST_ID_HEADER, _carry_request_id
    from maestro.core.context import bound_request_id

    headers: dict = {}
    with bound_request_id("rid-job-7"):
        _carry_request_id(headers=headers)
    assert headers == {REQUEST_ID_HEADER: "rid-job-7"}
