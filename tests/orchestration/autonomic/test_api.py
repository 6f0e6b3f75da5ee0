"""POST autonomic/loops/{id}/run and GET autonomic/loops/{id}/decisions (DESIGN §7.2)."""

from __future__ import annotations

import pytest

from orchestration.control.models.loops import LoopDecision
from tests.orchestration.autonomic.conftest import agents, loop, runs
from tests.support.api import assert_error
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db
URL = "/api/maestro/autonomic/loops"


def test_an_operator_runs_a_loop_now_and_gets_the_decision(api_client, seeded):
    # given
    runs(seeded, "coder", failed=5)
    mark = Mark(seeded)

    # when
    r = api_client.post(f"{URL}/reliability-guardian/run", format="json")

    # then
    assert r.status_code == 200
    body = r.json()
    row = LoopDecision.objects.get()
    assert body == {"id": str(row.id), "loopId": "reliability-guardian", "timestamp": body["timestamp"],
                    "action": "quarantine", "summary": "Quarantined coder (100% of 5 runs failed)",
                    "details": row.details}
    assert body["details"]["trigger"] == "manual"
    assert agents(seeded)["coder"] == ("degraded", 0)
    assert [(a.action, a.actor) for a in mark.audits()] == [("agent.update", "olivia"), ("loop.decision", "olivia")]
    assert mark.event_types() == ["audit:created", "agent:updated", "audit:created", "loop:decision"]
    event = mark.events()[3].data
    assert {k: event[k] for k in body} == body
    assert (event["decision"], event["loop"]["lastDecision"]) == (body["summary"], body["summary"])
    listed = api_client.get("/api/maestro/autonomic/loops/reliability-guardian").json()
    assert (listed["lastDecision"], listed["lastRun"]) == (body["summary"], body["timestamp"])


def test_a_paused_loop_can_be_run_by_hand(api_client, seeded):
    # when
    r = api_client.post(f"{URL}/safety-sentinel/run")

    # then
    assert r.status_code == 200
    assert r.json()["action"] == "none"


def test_decisions_are_listed_newest_first_with_a_limit(api_client, seeded):
    # given: three ticks
    ids = [api_client.post(f"{URL}/cost-optimization/run").json()["id"] for _ in range(3)]
    api_client.post(f"{URL}/reliability-guardian/run")

    # when
    everything = api_client.get(f"{URL}/cost-optimization/decisions")
    two = api_client.get(f"{URL}/cost-optimization/decisions?limit=2")

    # then
    assert everything.status_code == 200
    assert [d["id"] for d in everything.json()] == ids[::-1]
    assert {d["loopId"] for d in everything.json()} == {"cost-optimization"}
    assert [d["id"] for d in two.json()] == ids[:0:-1]
    assert 'rel="next"' in two["Link"]


def test_a_viewer_reads_decisions_but_cannot_run_a_loop(viewer_client, seeded):
    # given
    mark = Mark(seeded)

    # when
    run = viewer_client.post(f"{URL}/cost-optimization/run")
    read = viewer_client.get(f"{URL}/cost-optimization/decisions")

    # then
    assert_error(run, 403, "FORBIDDEN")
    assert read.status_code == 200 and read.json() == []
    mark.assert_denied(policy_id="rbac.requires_operator")
    assert loop(seeded, "cost-optimization").decisions.count() == 0


@pytest.mark.parametrize("method, path, body, status, code", [
    ("post", "nope/run", None, 404, "LOOP_NOT_FOUND"),
    ("get", "nope/decisions", None, 404, "LOOP_NOT_FOUND"),
    ("post", "cost-optimization/run", {"force": True}, 400, "VALIDATION_ERROR"),
    ("post", "cost-optimization/run", [1], 400, "VALIDATION_ERROR"),
    ("get", "cost-optimization/decisions?limit=0", None, 400, "VALIDATION_ERROR"),
    ("get", "cost-optimization/decisions?limit=abc", None, 400, "VALIDATION_ERROR"),
])
def test_bad_requests_are_4xx_and_write_nothing(api_client, seeded, method, path, body, status, code):
    # given
    mark = Mark(seeded)

    # when
    r = getattr(api_client, method)(f"{URL}/{path}", body, format="json")

    # then
    assert_error(r, status, code)
    mark.assert_nothing_written()
    assert LoopDecision.objects.count() == 0


def test_another_tenants_loop_is_not_found(other_client, seeded):
    # when
    r = other_client.post(f"{URL}/cost-optimization/run")

    # then
    assert_error(r, 404, "LOOP_NOT_FOUND")
    assert LoopDecision.objects.count() == 0
