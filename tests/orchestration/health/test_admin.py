"""The admin's index: the health of the signed-in person's tenant above the model list."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from maestro.tenancy.models import Membership
from tests.factories import make_run

pytestmark = pytest.mark.django_db


def health_of(response) -> dict:
    html = response.content.decode()
    section = re.search(r'<section id="maestro-health".*?</section>', html, re.S)
    assert section, html[:3000]
    text = section.group(0)
    return {
        "tenant": re.search(r"<h2>Health of (.*?)\s*<a", text, re.S).group(1).strip(),
        "score": int(re.search(r'id="maestro-overall-score">(\d+)<', text).group(1)),
        "workstreams": re.findall(r'data-workstream="([^"]+)"><td>[^<]*</td><td class="([^"]+)">', text),
        "alerts": re.findall(r'data-alert="([^"]+)"', text),
    }


def test_the_index_shows_the_tenants_health_and_its_alerts(staff, tenant, eager_workers):
    # given: 16 failed runs in the last hour make MC-Core an incident-level degradation
    for _ in range(16):
        make_run(tenant, status="failed")

    # when
    response = staff.get("/admin/")

    # then
    assert response.status_code == 200
    health = health_of(response)
    assert health["tenant"] == "Default"
    assert health["score"] == 40
    assert ("MC-Core", "degraded") in health["workstreams"]
    assert ("Workers", "healthy") in health["workstreams"]
    assert health["alerts"] == ["alert-mc-core"]
    assert b"High failure rate in last hour: 16 failed runs" in response.content
    assert b'href="/?tenant=default"' in response.content
    assert b'id="content-main"' in response.content  # the model list is still there


def test_a_member_of_one_tenant_sees_that_tenant(db, django_user_model, tenant, other_tenant, eager_workers):
    # given: a staff member whose only membership is "other"; only the default tenant has failures
    for _ in range(16):
        make_run(tenant, status="failed")
    user = django_user_model.objects.create_user("ops", password="pw-123456", is_staff=True)
    Membership.objects.create(user=user, tenant=other_tenant, role="operator")
    client = Client()
    client.force_login(user)

    # when
    health = health_of(client.get("/admin/"))
    asked_for_another = health_of(client.get("/admin/?tenant=default"))

    # then: their own tenant, healthy; asking for one that is not theirs changes nothing
    assert (health["tenant"], health["score"], health["alerts"]) == ("other", 100, [])
    assert asked_for_another["tenant"] == "other"


def test_a_superuser_picks_any_tenant(staff, tenant, other_tenant, eager_workers):
    # given
    for _ in range(16):
        make_run(other_tenant, status="failed")

    # when
    default = staff.get("/admin/")
    other = staff.get("/admin/?tenant=other")

    # then
    assert health_of(default)["score"] == 100
    assert (health_of(other)["tenant"], health_of(other)["score"]) == ("other", 40)
    assert b'<a href="?tenant=other" aria-current="page">other</a>' in other.content
