"""Strict mode (the safety loop's): writes by non-admins are refused and audited as denied
with policy ``safety.strict``; admins still write; reads are untouched."""

from __future__ import annotations

import pytest

from orchestration.work.models import Project
from tests.orchestration.autonomic.conftest import configure
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict(seeded):
    configure(seeded, "safety-sentinel", {"strictMode": True}, status="active")
    return seeded


def test_strict_mode_refuses_an_operators_write_and_writes_only_the_denial(strict, api_client):
    # given
    mark = Mark(strict)

    # when
    r = api_client.post("/api/projects", {"name": "Payments"}, format="json")

    # then
    assert r.status_code == 403
    assert (r.json()["code"], r.json()["message"]) == ("FORBIDDEN", "Strict mode is on: only admins may write")
    assert not Project.objects.exists()
    denial = mark.assert_denied(policy_id="safety.strict", actor="olivia")
    assert denial.action == "POST /api/projects"


def test_strict_mode_lets_admins_write_and_everyone_read(strict, admin_client, api_client):
    # when
    created = admin_client.post("/api/projects", {"name": "Payments"}, format="json")
    read = api_client.get("/api/projects")

    # then
    assert created.status_code == 201
    assert [p["name"] for p in read.json()] == ["Payments"]


def test_a_paused_safety_loop_holds_no_strict_mode(seeded, api_client):
    # given: the seeded sentinel says strictMode but is paused
    assert api_client.post("/api/projects", {"name": "Payments"}, format="json").status_code == 201


def test_a_viewer_is_still_refused_by_role(strict, viewer_client):
    # given
    mark = Mark(strict)

    # when
    r = viewer_client.post("/api/projects", {"name": "Payments"}, format="json")

    # then
    assert r.status_code == 403
    mark.assert_denied(policy_id="rbac.requires_operator")


def test_the_safety_loop_turns_strict_mode_on_and_then_an_operator_cannot_write(seeded, tick, api_client,
                                                                               viewer_client):
    # given: an active safety loop with the default maxDenials 0, and one denied write by a viewer
    configure(seeded, "safety-sentinel", {}, status="active")
    viewer_client.post("/api/projects", {"name": "Nope"}, format="json")

    # when
    assert tick("safety-sentinel").action == "strict_mode"
    r = api_client.post("/api/projects", {"name": "Payments"}, format="json")

    # then
    assert r.status_code == 403
    assert not Project.objects.exists()


@pytest.mark.parametrize("slug, config, status, expected", [
    ("safety-sentinel", {"strictMode": True}, "active", True),
    ("safety-sentinel", {"strictMode": False}, "active", False),
    ("safety-sentinel", {"strictMode": True}, "paused", False),
])
def test_strict_mode_is_an_active_safety_loop_holding_json_true_in_its_own_tenant(
        seeded, other_tenant, slug, config, status, expected):
    from orchestration.autonomic.selectors import strict_mode_on
    from orchestration.control.services.seed import seed_defaults
    from tests.factories import SYSTEM

    # given: the other tenant's sentinel holds strict mode whatever this one does
    seed_defaults(tenant=other_tenant, actor=SYSTEM)
    configure(other_tenant, "safety-sentinel", {"strictMode": True}, status="active")
    configure(seeded, slug, config, status=status)

    # when / then: asked twice, so the second answer comes from the compiled query too
    assert [strict_mode_on(tenant_id=seeded.pk) for _ in range(2)] == [expected, expected]
    assert strict_mode_on(tenant_id=other_tenant.pk) is True
