from __future__ import annotations

import pytest

from orchestration.control.models.agents import AgentProfile
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db

URL = "/api/maestro/agents"


def coder(tenant):
    return AgentProfile.objects.get(tenant=tenant, slug="coder")


NO_RUNS = {"successRate": 100.0, "latencyP95": 0.0, "costPerTask": 0.0, "sampleSize": 0}


def test_list_returns_the_old_agent_shape(api_client, seeded, legacy_db):
    # when
    r = api_client.get(URL)

    # then: the old fields; the metrics are counted from runs (none yet), not the old constants
    assert r.status_code == 200
    assert r.json() == [{**agent, "metrics": NO_RUNS, "version": 1} for agent in legacy_db["agents"]]


def test_patch_updates_only_what_was_sent(api_client, seeded):
    # given
    mark = Mark(seeded)

    # when
    r = api_client.patch(f"{URL}/coder", {"routingWeight": 50, "metrics": {"latencyP95": 3900}}, format="json")

    # then: the metrics sent are not kept (they are counted from runs)
    assert r.status_code == 200
    assert r.json() == {"id": "coder", "name": "Coder", "role": "Implementation", "model": "claude-3-opus",
                        "status": "healthy", "metrics": NO_RUNS, "routingWeight": 50, "version": 2}
    assert r["ETag"] == '"2"'
    assert mark.audit_summary() == [("agent.update", "coder", "allowed", "")]
    assert mark.event_types() == ["audit:created", "agent:updated"]
    assert mark.events()[1].data == r.json()


def test_an_old_client_sending_the_whole_object_back_is_accepted(api_client, seeded):
    # given
    agent = api_client.get(f"{URL}/coder").json()
    agent["model"] = "claude-3-5-sonnet"

    # when
    r = api_client.patch(f"{URL}/coder", agent, format="json")

    # then
    assert r.status_code == 200
    assert coder(seeded).model == "claude-3-5-sonnet"


@pytest.mark.parametrize("body, message", [
    ({"routingWeight": -1}, "routingWeight: Ensure this value is greater than or equal to 0."),
    ({"routingWeight": 101}, "routingWeight: Ensure this value is less than or equal to 100."),
    ({"routingWeight": "80"}, "routingWeight: A valid integer is required."),
    ({"routingWeight": 80.5}, "routingWeight: A valid integer is required."),
    ({"metrics": {"latencyP95": 3900}}, "Nothing to update"),
    ({"status": "on-fire"}, 'status: "on-fire" is not a valid choice.'),
    ({"nickname": "cody"}, "nickname: Unknown field."),
    ({"id": "hacker"}, "id cannot be changed"),
    ({}, "Nothing to update"),
])
def test_bad_patch_is_400_and_changes_nothing(api_client, seeded, body, message):
    # given
    mark = Mark(seeded)

    # when
    r = api_client.patch(f"{URL}/coder", body, format="json")

    # then
    assert r.status_code == 400
    assert r.json()["code"] == "VALIDATION_ERROR"
    assert r.json()["message"] == message
    agent = coder(seeded)
    assert (agent.routing_weight, agent.version) == (80, 1)
    mark.assert_nothing_written()


def test_viewer_gets_403_and_a_denied_audit_row(viewer_client, seeded):
    # given
    mark = Mark(seeded)

    # when
    r = viewer_client.patch(f"{URL}/coder", {"routingWeight": 0}, format="json")

    # then
    assert r.status_code == 403
    assert coder(seeded).routing_weight == 80
    assert [(a.status, a.policy_id, a.resource) for a in mark.audits()] == [
        ("denied", "rbac.requires_operator", "coder")]


def test_viewer_can_read(viewer_client, seeded):
    # when
    r = viewer_client.get(URL)

    # then
    assert r.status_code == 200
    assert [a["id"] for a in r.json()] == ["planner", "coder", "reviewer"]


def test_stale_if_match_is_412_and_denied(api_client, seeded):
    # given
    api_client.patch(f"{URL}/coder", {"routingWeight": 70}, format="json", HTTP_IF_MATCH='"1"')
    mark = Mark(seeded)

    # when
    r = api_client.patch(f"{URL}/coder", {"routingWeight": 10}, format="json", HTTP_IF_MATCH='"1"')

    # then
    assert r.status_code == 412
    assert coder(seeded).routing_weight == 70
    assert mark.audit_summary() == [("agent.update", "coder", "denied", "optimistic_concurrency")]


def test_unknown_agent_is_404(api_client, seeded):
    # when
    r = api_client.patch(f"{URL}/nobody", {"routingWeight": 10}, format="json")

    # then
    assert r.status_code == 404
    assert r.json()["code"] == "AGENT_NOT_FOUND"


def test_service_refuses_to_store_a_metric_from_any_caller(seeded):
    from maestro.core.exceptions import ValidationFailed
    from orchestration.control.services.agents import agent_update
    from tests.factories import SYSTEM

    # when / then
    with pytest.raises(ValidationFailed, match="Unknown agent field"):
        agent_update(tenant=seeded, actor=SYSTEM, agent_id="coder", changes={"latency_p95": 10})
    assert coder(seeded).version == 1
