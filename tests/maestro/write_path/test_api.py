"""/api/maestro/audit/log: the tenant's audit rows, newest first, never capped by count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from maestro.write_path.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_audit_log_is_newest_first_in_the_old_shape(api_client, seeded):
    # given
    api_client.post("/api/maestro/autonomic/loops/safety-sentinel/toggle", {"status": "active"}, format="json",
                    HTTP_X_REQUEST_ID="req-audit-1")

    # when
    r = api_client.get("/api/maestro/audit/log")

    # then
    first = r.json()[0]
    assert {k: first[k] for k in ("actor", "action", "resource", "details", "status", "policyId", "requestId")} == {
        "actor": "olivia", "action": "loop.set_status", "resource": "safety-sentinel",
        "details": "Set loop safety-sentinel to active", "status": "allowed", "policyId": None,
        "requestId": "req-audit-1"}
    stamps = [row["timestamp"] for row in r.json()]
    assert stamps == sorted(stamps, reverse=True)


def test_audit_log_is_not_capped_at_the_old_1000_rows(api_client, tenant):
    # given: 1,200 rows (the old service dropped everything past 1,000)
    now = timezone.now()
    AuditEvent.objects.bulk_create([AuditEvent(tenant=tenant, actor="t", action="x", resource=str(n))
                                    for n in range(1200)])
    AuditEvent.objects.filter(tenant=tenant).update(timestamp=now - timedelta(minutes=1))

    # when
    default = api_client.get("/api/maestro/audit/log")
    everything = api_client.get("/api/maestro/audit/log", {"limit": 5000})

    # then
    assert len(default.json()) == 100
    assert 'rel="next"' in default["Link"]
    assert len(everything.json()) == AuditEvent.objects.filter(tenant=tenant).count() >= 1200


def test_audit_log_cursor_pages_through_everything_once(api_client, tenant):
    # given
    AuditEvent.objects.bulk_create([AuditEvent(tenant=tenant, actor="t", action="x", resource=str(n))
                                    for n in range(25)])
    total = AuditEvent.objects.filter(tenant=tenant).count()

    # when
    seen, url = [], "/api/maestro/audit/log?limit=10"
    while url:
        r = api_client.get(url)
        seen += [row["id"] for row in r.json()]
        link = r.get("Link")
        url = link[1:link.index(">")] if link else None

    # then
    assert len(seen) == len(set(seen)) == total


def test_audit_log_rejects_a_forged_cursor(api_client, tenant):
    # when
    r = api_client.get("/api/maestro/audit/log", {"cursor": "bm90LWEtY3Vyc29y"})

    # then
    assert r.status_code == 400
