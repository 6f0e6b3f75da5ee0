from __future__ import annotations

import pytest

from maestro.write_path.models import AuditEvent
from orchestration.control.models.loops import AutonomicLoop
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db

URL = "/api/maestro/autonomic/loops"


def loop_row(tenant, slug="safety-sentinel"):
    return AutonomicLoop.objects.get(tenant=tenant, slug=slug)


def test_list_returns_the_old_loop_shape_in_order(api_client, seeded, legacy_db):
    # when
    r = api_client.get(URL)

    # then
    assert r.status_code == 200
    expected = [{**loop, "version": 1} for loop in legacy_db["loops"]]
    assert r.json() == expected


def test_detail_sends_the_version_as_etag(api_client, seeded):
    # when
    r = api_client.get(f"{URL}/cost-optimization")

    # then
    assert r.status_code == 200
    assert r["ETag"] == '"1"'
    assert r.json()["config"] == {"threshold": 0.8, "interval": "15m"}


def test_toggle_sets_the_status_audits_and_emits_after_commit(api_client, seeded):
    # given
    mark = Mark(seeded)

    # when
    r = api_client.post(f"{URL}/safety-sentinel/toggle", {"status": "active"}, format="json",
                        HTTP_X_REQUEST_ID="req-toggle-1")

    # then
    assert r.status_code == 200
    assert r.json() == {"success": True}
    assert r["ETag"] == '"2"'
    loop = loop_row(seeded)
    assert (loop.status, loop.version) == ("active", 2)
    audit = mark.audits()
    assert [(a.action, a.resource, a.status, a.actor, a.request_id, a.details) for a in audit] == [
        ("loop.set_status", "safety-sentinel", "allowed", "olivia", "req-toggle-1",
         "Set loop safety-sentinel to active")]
    assert [i.action_type for i in mark.intakes()] == ["loop.set_status"]
    events = mark.events()
    assert [e.type for e in events] == ["audit:created", "loop:updated"]
    assert events[1].data["id"] == "safety-sentinel"
    assert events[1].data["status"] == "active"
    assert events[1].data["version"] == 2


@pytest.mark.parametrize("body", [{"status": "banana"}, {"status": 1}, {}, {"status": "active", "colour": "red"}])
def test_toggle_with_bad_input_is_400_and_changes_nothing(api_client, seeded, body):
    # given
    mark = Mark(seeded)

    # when
    r = api_client.post(f"{URL}/safety-sentinel/toggle", body, format="json")

    # then
    assert r.status_code == 400
    assert r.json()["error"] is True
    assert r.json()["code"] == "VALIDATION_ERROR"
    loop = loop_row(seeded)
    assert (loop.status, loop.version) == ("paused", 1)
    mark.assert_nothing_written()


def test_toggle_banana_names_the_allowed_statuses(api_client, seeded):
    # when
    r = api_client.post(f"{URL}/safety-sentinel/toggle", {"status": "banana"}, format="json")

    # then
    assert r.json()["message"] == "status must be active or paused, not 'banana'"


def test_toggle_of_an_unknown_loop_is_404_with_success_false(api_client, seeded):
    # given
    mark = Mark(seeded)

    # when
    r = api_client.post(f"{URL}/no-such-loop/toggle", {"status": "paused"}, format="json")

    # then
    assert r.status_code == 404
    assert r.json() == {"error": True, "code": "LOOP_NOT_FOUND", "message": "Loop not found",
                        "details": {"id": "no-such-loop"}, "success": False}
    mark.assert_nothing_written()


def test_viewer_cannot_toggle_and_the_refusal_is_audited(viewer_client, seeded):
    # given
    mark = Mark(seeded)

    # when
    r = viewer_client.post(f"{URL}/safety-sentinel/toggle", {"status": "active"}, format="json")

    # then
    assert r.status_code == 403
    assert r.json()["code"] == "FORBIDDEN"
    assert loop_row(seeded).status == "paused"
    assert [(a.status, a.policy_id, a.actor) for a in mark.audits()] == [("denied", "rbac.requires_operator", "victor")]
    assert "loop:updated" not in mark.event_types()


def test_toggle_with_a_stale_if_match_is_412_denied_and_changes_nothing(api_client, seeded):
    # given: someone else toggled first (version 1 → 2). (Not the seeded safety-sentinel: resumed,
    # its strictMode refuses operators' writes.)
    api_client.post(f"{URL}/reliability-guardian/toggle", {"status": "paused"}, format="json")
    mark = Mark(seeded)

    # when
    r = api_client.post(f"{URL}/reliability-guardian/toggle", {"status": "active"}, format="json",
                        HTTP_IF_MATCH='"1"')

    # then
    assert r.status_code == 412
    assert r.json()["code"] == "PRECONDITION_FAILED"
    assert r.json()["details"] == {"currentVersion": 2, "expectedVersion": 1}
    loop = loop_row(seeded, "reliability-guardian")
    assert (loop.status, loop.version) == ("paused", 2)
    assert mark.audit_summary() == [("loop.set_status", "reliability-guardian", "denied", "optimistic_concurrency")]
    assert mark.event_types() == ["audit:created"]


def test_toggle_with_the_current_version_in_the_body_is_accepted(api_client, seeded):
    # when
    r = api_client.post(f"{URL}/reliability-guardian/toggle", {"status": "paused", "version": 1}, format="json")
    stale = api_client.post(f"{URL}/reliability-guardian/toggle", {"status": "active", "version": 1}, format="json")

    # then
    assert r.status_code == 200
    assert stale.status_code == 412
    assert loop_row(seeded, "reliability-guardian").version == 2


def test_resuming_a_safety_loop_in_strict_mode_leaves_only_admins_writing(api_client, admin_client, seeded):
    # given: the seeded safety-sentinel says strictMode: true
    assert api_client.post(f"{URL}/safety-sentinel/toggle", {"status": "active"}, format="json").status_code == 200

    # when
    refused = api_client.post(f"{URL}/safety-sentinel/toggle", {"status": "paused"}, format="json")
    paused = admin_client.post(f"{URL}/safety-sentinel/toggle", {"status": "paused"}, format="json")

    # then
    assert (refused.status_code, refused.json()["details"]["policy"]) == (403, "safety.strict")
    assert paused.status_code == 200
    assert loop_row(seeded).status == "paused"


def test_malformed_if_match_is_412(api_client, seeded):
    # when
    r = api_client.post(f"{URL}/safety-sentinel/toggle", {"status": "active"}, format="json",
                        HTTP_IF_MATCH="yesterday")

    # then
    assert r.status_code == 412
    assert loop_row(seeded).version == 1


def test_patch_config_is_checked_against_the_schema_of_the_loop_type(api_client, seeded):
    # given
    mark = Mark(seeded)

    # when
    bad = api_client.patch(f"{URL}/cost-optimization", {"config": {"threshold": "high"}}, format="json")
    unknown_key = api_client.patch(f"{URL}/cost-optimization", {"config": {"maxRetries": 3}}, format="json")

    # then
    assert bad.status_code == 400
    assert bad.json()["message"] == "config is invalid for a cost loop: $.threshold: 'high' is not of type 'number'"
    assert unknown_key.status_code == 400
    assert loop_row(seeded, "cost-optimization").config == {"threshold": 0.8, "interval": "15m"}
    mark.assert_nothing_written()


def test_patch_config_with_if_match_updates_and_bumps_the_version(api_client, seeded):
    # when
    r = api_client.patch(f"{URL}/cost-optimization", {"config": {"threshold": 0.5, "interval": "5m"}},
                         format="json", HTTP_IF_MATCH='"1"')

    # then
    assert r.status_code == 200
    assert r["ETag"] == '"2"'
    assert r.json()["config"] == {"threshold": 0.5, "interval": "5m"}
    loop = loop_row(seeded, "cost-optimization")
    assert (loop.config, loop.version) == ({"threshold": 0.5, "interval": "5m"}, 2)
    assert loop.last_decision == "Shifted 20% traffic to Haiku for non-critical tasks"


def test_changing_the_type_revalidates_the_existing_config(api_client, seeded):
    # when: a cost config is not a valid safety config
    r = api_client.patch(f"{URL}/cost-optimization", {"type": "safety"}, format="json")

    # then
    assert r.status_code == 400
    assert loop_row(seeded, "cost-optimization").type == "cost"


def test_another_tenant_sees_and_touches_none_of_these_loops(other_client, seeded):
    # when
    listed = other_client.get(URL)
    toggled = other_client.post(f"{URL}/safety-sentinel/toggle", {"status": "active"}, format="json")

    # then
    assert listed.json() == []
    assert toggled.status_code == 404
    assert loop_row(seeded).status == "paused"


def test_a_decision_is_stored_broadcast_and_leaves_the_version_alone(seeded):
    from orchestration.control.services.loops import loop_record_decision
    from tests.factories import SYSTEM

    # given
    mark = Mark(seeded)

    # when
    loop_record_decision(tenant=seeded, actor=SYSTEM, loop_id="cost-optimization", decision="Shifted 5% to Haiku",
                         details={"shift": 5})

    # then
    loop = loop_row(seeded, "cost-optimization")
    assert (loop.last_decision, loop.version) == ("Shifted 5% to Haiku", 1)
    assert loop.decisions.count() == 1
    assert mark.event_types() == ["audit:created", "loop:decision"]
    assert mark.events()[1].data["loopId"] == "cost-optimization"
    assert AuditEvent.objects.filter(action="loop.decision").count() == 1
