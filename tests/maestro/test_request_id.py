from __future__ import annotations

import json
import logging
import re

from maestro.write_path.models import AuditEvent
from realtime.models import Event
from tests.support.api import assert_error


def test_request_id_is_echoed_and_stored_on_the_audit_row_and_events(api_client, tenant):
    # when
    r = api_client.post("/api/projects", {"name": "x"}, format="json", HTTP_X_REQUEST_ID="abc-123.DEF:9_z")
    # then
    assert r["X-Request-ID"] == "abc-123.DEF:9_z"
    audit = AuditEvent.objects.get(action="project.create")
    assert audit.request_id == "abc-123.DEF:9_z"
    assert set(Event.objects.filter(seq__gt=0, request_id="abc-123.DEF:9_z").values_list("type", flat=True)) == {
        "audit:created", "project:created"}


def test_request_id_is_generated_when_missing(api_client, tenant):
    # when
    first = api_client.post("/api/projects", {"name": "a"}, format="json")
    second = api_client.post("/api/projects", {"name": "b"}, format="json")
    # then
    generated = [first["X-Request-ID"], second["X-Request-ID"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", g) for g in generated)
    assert generated[0] != generated[1]
    assert list(AuditEvent.objects.filter(action="project.create").order_by("id")
                .values_list("request_id", flat=True)) == generated


def test_request_id_is_on_reads_errors_and_unknown_paths(api_client, anon_client):
    # when
    responses = [api_client.get("/api/projects", HTTP_X_REQUEST_ID="r1"), api_client.get("/api/nope"),
                 anon_client.get("/api/projects", HTTP_X_REQUEST_ID="r3"),
                 api_client.get("/api/tasks/task_nope")]
    # then
    assert responses[0]["X-Request-ID"] == "r1"
    assert responses[2]["X-Request-ID"] == "r3"
    assert all(r.has_header("X-Request-ID") for r in responses)


def test_unsafe_or_overlong_request_ids_are_replaced(api_client, tenant):
    # given: the audit column holds 64 characters
    candidates = ["bad id with spaces", "x" * 65, "<script>", "a\u00e9b", "trailing-newline\n"]
    for candidate in candidates:
        # when
        r = api_client.post("/api/projects", {"name": "x"}, format="json", HTTP_X_REQUEST_ID=candidate)
        # then
        assert r.status_code == 201, r.content
        assert re.fullmatch(r"[0-9a-f]{32}", r["X-Request-ID"])
    assert all(re.fullmatch(r"[0-9a-f]{32}", a.request_id) for a in AuditEvent.objects.filter(action="project.create"))


def test_longest_accepted_request_id_fits_the_audit_row(api_client, tenant):
    # when
    r = api_client.post("/api/projects", {"name": "x"}, format="json", HTTP_X_REQUEST_ID="y" * 64)
    # then
    assert r.status_code == 201, r.content
    assert r["X-Request-ID"] == "y" * 64
    assert AuditEvent.objects.get(action="project.create").request_id == "y" * 64


def test_denied_audit_row_carries_the_request_id(viewer_client, tenant):
    # when
    r = viewer_client.post("/api/projects", {"name": "x"}, format="json", HTTP_X_REQUEST_ID="denied-1")
    # then
    assert_error(r, 403, "FORBIDDEN")
    assert r["X-Request-ID"] == "denied-1"
    assert AuditEvent.objects.get(status="denied").request_id == "denied-1"


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


def test_celery_job_carries_the_request_id(db):
    from maestro.celery import REQUEST_ID_HEADER, _carry_request_id
    from maestro.core.context import bound_request_id

    headers: dict = {}
    with bound_request_id("rid-job-7"):
        _carry_request_id(headers=headers)
    assert headers == {REQUEST_ID_HEADER: "rid-job-7"}
