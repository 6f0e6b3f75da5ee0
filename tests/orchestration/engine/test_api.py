"""``/api/maestro/`` workflows, runs and DLQ (DESIGN §7.1), through the HTTP API."""

from __future__ import annotations

import pytest

from orchestration.engine.models import DeadLetter, RunStep
from orchestration.runs.models import Run
from tests.orchestration.engine.conftest import SPEC
from tests.support.api import assert_error
from tests.support.race import race
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db(transaction=True)

M = "/api/maestro"


def make_workflow(client, name="deploy", spec=None, **extra):
    response = client.post(f"{M}/workflows", {"name": name, "spec": spec or SPEC, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_posting_a_workflow_again_adds_the_next_version_and_get_reads_latest_or_one(api_client, tenant):
    # given
    mark = Mark(tenant)
    first = make_workflow(api_client)
    yaml_text = "steps:\n  - id: only\n    action: sleep\n    params: {seconds: 0}\n"
    second = api_client.post(f"{M}/workflows", {"name": "deploy", "specYaml": yaml_text}, format="json").json()

    # when
    latest = api_client.get(f"{M}/workflows/deploy").json()
    v1 = api_client.get(f"{M}/workflows/deploy?version=1").json()
    missing = api_client.get(f"{M}/workflows/nope")
    no_version = api_client.get(f"{M}/workflows/deploy?version=3")
    listed = api_client.get(f"{M}/workflows").json()

    # then
    assert set(first) == {"id", "name", "version", "spec", "specYaml", "isEnabled", "createdAt"}
    assert (first["version"], first["isEnabled"], first["spec"]) == (1, True, SPEC)
    assert (second["version"], second["spec"]) == (2, {"steps": [{"id": "only", "action": "sleep",
                                                                   "params": {"seconds": 0}}]})
    assert (latest["id"], v1["id"]) == (second["id"], first["id"])
    assert_error(missing, 404, "WORKFLOW_NOT_FOUND")
    assert_error(no_version, 404, "WORKFLOW_NOT_FOUND")
    assert [(w["name"], w["version"]) for w in listed] == [("deploy", 2), ("deploy", 1)]
    assert mark.event_types() == ["audit:created", "workflow:created"] * 2


def test_post_runs_starts_a_queued_run_and_the_same_idempotency_key_returns_it(api_client, tenant, engine):
    # given
    make_workflow(api_client)
    mark = Mark(tenant)

    # when
    first = api_client.post(f"{M}/runs", {"workflow": "deploy", "input": {"env": "prod"}}, format="json",
                            HTTP_IDEMPOTENCY_KEY="k-1")
    again = api_client.post(f"{M}/runs", {"workflow": "deploy", "input": {"env": "prod"}}, format="json",
                            HTTP_IDEMPOTENCY_KEY="k-1")

    # then
    assert (first.status_code, again.status_code) == (201, 200)
    run = first.json()
    assert again.json()["id"] == run["id"]
    assert (run["status"], run["pipeline"], run["input_params"]) == ("queued", "deploy", {"env": "prod"})
    assert [(s["id"], s["status"], s["depends_on"]) for s in run["steps"]] == [
        ("a", "queued", []), ("b", "pending", ["a"]), ("c", "pending", ["a"]), ("d", "pending", ["b", "c"])]
    assert set(run["steps"][0]) == {"id", "run_id", "action", "status", "attempts", "depends_on", "started_at",
                                    "finished_at", "error", "output"}
    assert Run.objects.count() == 1
    assert mark.event_types() == ["audit:created", "run:created", "step:updated"]


def test_racing_starts_with_one_idempotency_key_make_one_run(tenant, engine):
    from orchestration.engine.services import run_start, workflow_create
    from tests.factories import SYSTEM

    # given
    workflow_create(tenant=tenant, actor=SYSTEM, name="deploy", spec_json=SPEC)

    # when
    results = race(lambda i: run_start(tenant=tenant, actor=SYSTEM, workflow="deploy", idempotency_key="same"), 6)

    # then
    assert [r[0] for r in results] == ["ok"] * 6
    assert len({run.id for run, _ in (r[1] for r in results)}) == 1
    assert sorted(created for _, created in (r[1] for r in results)) == [False] * 5 + [True]
    assert (Run.objects.count(), RunStep.objects.count()) == (1, 4)
    assert len(engine.pending()) == 1


def test_an_unknown_or_disabled_workflow_starts_nothing(api_client, tenant, engine):
    # given
    make_workflow(api_client, name="off", isEnabled=False)
    mark = Mark(tenant)

    # when / then: 404 and 400 write nothing
    unknown = api_client.post(f"{M}/runs", {"workflow": "nope"}, format="json")
    bad_body = api_client.post(f"{M}/runs", {"workflow": "off", "extra": 1}, format="json")
    bad_key = api_client.post(f"{M}/runs", {"workflow": "off"}, format="json", HTTP_IDEMPOTENCY_KEY="")
    assert_error(unknown, 404, "WORKFLOW_NOT_FOUND")
    assert_error(bad_body, 400, "VALIDATION_ERROR")
    assert_error(bad_key, 400, "VALIDATION_ERROR")
    mark.assert_nothing_written()

    # when / then: a disabled workflow is a refusal, recorded as denied and nothing else
    mark = Mark(tenant)
    disabled = api_client.post(f"{M}/runs", {"workflow": "off", "agent": "ghost"}, format="json")
    assert_error(disabled, 409, "CONFLICT")  # disabled is checked before the agent
    mark.assert_denied(policy_id="workflow_disabled", actor="olivia")
    assert engine.pending() == []


def test_graph_timeline_and_cancel_of_a_run(api_client, tenant, engine):
    # given
    make_workflow(api_client)
    run = api_client.post(f"{M}/runs", {"workflow": "deploy"}, format="json").json()
    engine.drain()

    # when
    graph = api_client.get(f"{M}/runs/{run['id']}/graph").json()
    timeline = api_client.get(f"{M}/runs/{run['id']}/timeline").json()
    detail = api_client.get(f"{M}/runs/{run['id']}").json()
    mark = Mark(tenant)
    cancel_finished = api_client.post(f"{M}/runs/{run['id']}/cancel")

    # then
    assert graph == {"nodes": [{"id": s, "action": "noop", "status": "succeeded", "attempts": 1} for s in "abcd"],
                     "edges": [{"from": "a", "to": "b"}, {"from": "a", "to": "c"}, {"from": "b", "to": "d"},
                               {"from": "c", "to": "d"}]}
    assert len(timeline) == 12 and timeline[0]["step_id"] == "a" and timeline[-1] == {
        "step_id": "d", "status": "succeeded", "attempt": 1, "timestamp": timeline[-1]["timestamp"], "error": None}
    assert detail["status"] == "succeeded"
    assert_error(cancel_finished, 409, "CONFLICT")
    mark.assert_denied(policy_id="run_state_machine", actor="olivia")  # a refusal: recorded, nothing changed


def test_cancel_through_the_api_and_viewers_cannot(api_client, viewer_client, tenant, engine):
    make_workflow(api_client)
    run = api_client.post(f"{M}/runs", {"workflow": "deploy"}, format="json").json()

    refused = viewer_client.post(f"{M}/runs/{run['id']}/cancel")
    cancelled = api_client.post(f"{M}/runs/{run['id']}/cancel")

    assert_error(refused, 403, "FORBIDDEN")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert {s["status"] for s in cancelled.json()["steps"]} == {"cancelled"}
    assert engine.drain() == ["skipped"]


def test_dlq_lists_dead_steps_and_replays_each_once(api_client, tenant, engine):
    # given
    make_workflow(api_client, name="flaky", spec={"steps": [{"id": "x", "action": "fail", "params": {"times": 1}}]})
    run = api_client.post(f"{M}/runs", {"workflow": "flaky"}, format="json").json()
    engine.drain()

    # when
    dlq = api_client.get(f"{M}/dlq").json()
    replay = api_client.post(f"{M}/dlq/{dlq[0]['id']}/replay")
    mark = Mark(tenant)
    again = api_client.post(f"{M}/dlq/{dlq[0]['id']}/replay")
    mark.assert_denied(policy_id="dead_letter_replayed", actor="olivia")
    missing = api_client.post(f"{M}/dlq/nope/replay")
    engine.drain()

    # then
    assert [(d["run_id"], d["step_id"], d["action"], d["attempts"], d["replayed_at"]) for d in dlq] == [
        (run["id"], "x", "fail", 1, None)]
    assert set(dlq[0]) == {"id", "run_id", "step_id", "action", "error", "attempts", "payload", "created_at",
                           "replayed_at"}
    assert replay.status_code == 200 and replay.json()["replayed_at"] is not None
    assert_error(again, 409, "CONFLICT")
    assert_error(missing, 404, "DEAD_LETTER_NOT_FOUND")
    assert api_client.get(f"{M}/runs/{run['id']}").json()["status"] == "succeeded"


def test_a_playbook_run_body_that_is_not_an_object_is_refused_and_starts_nothing(api_client, seeded):
    # given: an enabled playbook; its run body is optional, but one that is sent is an object
    api_client.post(f"{M}/playbooks", {"id": "pb-ok", "name": "OK", "actions": ["noop"], "isEnabled": True},
                    format="json")
    # when
    refused = [api_client.post(f"{M}/playbooks/pb-ok/run", body, content_type="application/json")
               for body in ("null", "[]", '"go"')]
    # then
    for answer in refused:
        assert_error(answer, 400, "VALIDATION_ERROR", "Request body must be a JSON object")
    assert not Run.objects.exists()


def test_a_playbook_runs_its_actions_in_order_and_an_unknown_old_action_fails_its_run(api_client, seeded, engine):
    # given: pb-restart-pods is the old system's, with an action no registry knows
    made = api_client.post(f"{M}/playbooks", {"id": "pb-ok", "name": "OK", "actions": ["noop", "noop"],
                                              "isEnabled": True}, format="json")
    refused = api_client.post(f"{M}/playbooks", {"id": "pb-bad", "name": "Bad", "actions": ["k8s.delete_pod"]},
                              format="json")

    # when
    ok = api_client.post(f"{M}/playbooks/pb-ok/run", {}, format="json", HTTP_IDEMPOTENCY_KEY="p1")
    ok_again = api_client.post(f"{M}/playbooks/pb-ok/run", {}, format="json", HTTP_IDEMPOTENCY_KEY="p1")
    old = api_client.post(f"{M}/playbooks/pb-restart-pods/run", format="json")
    engine.drain()

    # then
    assert made.status_code == 201
    assert assert_error(refused, 400, "VALIDATION_ERROR")["details"]["action"] == "k8s.delete_pod"
    assert (ok.status_code, ok_again.status_code, ok_again.json()["id"]) == (201, 200, ok.json()["id"])
    assert [(s["id"], s["action"], s["depends_on"]) for s in ok.json()["steps"]] == [
        ("1", "noop", []), ("2", "noop", ["1"])]
    assert api_client.get(f"{M}/runs/{ok.json()['id']}").json()["status"] == "succeeded"
    failed = api_client.get(f"{M}/runs/{old.json()['id']}").json()
    assert (failed["pipeline"], failed["status"]) == ("playbook:pb-restart-pods", "failed")
    assert failed["error_message"] == "step 1 failed: unknown action k8s.delete_pod"
    assert DeadLetter.objects.filter(run_id=old.json()["id"]).count() == 1


def test_runs_are_routed_to_the_named_agent_or_by_weight(api_client, seeded, engine):
    from orchestration.control.models.agents import AgentProfile
    from orchestration.control.selectors.agents import agent_route

    # given
    make_workflow(api_client)
    AgentProfile.objects.filter(tenant=seeded, slug="coder").update(status="degraded")

    # when
    named = api_client.post(f"{M}/runs", {"workflow": "deploy", "agent": "coder"}, format="json").json()
    unknown = api_client.post(f"{M}/runs", {"workflow": "deploy", "agent": "ghost"}, format="json")
    routed = [agent_route(tenant=seeded, rng=lambda x=x: x).slug for x in (0.0, 0.49, 0.5, 0.99)]
    AgentProfile.objects.filter(tenant=seeded).update(routing_weight=0)
    nobody = api_client.post(f"{M}/runs", {"workflow": "deploy"}, format="json").json()

    # then: planner and reviewer (weight 100 each) share the traffic; coder is degraded
    assert named["executor_id"] == "coder"
    assert assert_error(unknown, 400, "VALIDATION_ERROR")["details"]["agent"] == "ghost"
    assert routed == ["planner", "planner", "reviewer", "reviewer"]
    assert nobody["executor_id"] is None


def test_another_tenants_runs_workflows_and_dead_letters_are_not_found(api_client, other_client, tenant, engine):
    # given
    make_workflow(api_client, name="flaky", spec={"steps": [{"id": "x", "action": "fail"}]})
    run = api_client.post(f"{M}/runs", {"workflow": "flaky"}, format="json").json()
    engine.drain()
    letter = api_client.get(f"{M}/dlq").json()[0]
    mark = Mark(tenant)

    # when
    answers = [other_client.get(f"{M}/runs/{run['id']}"), other_client.get(f"{M}/runs/{run['id']}/graph"),
               other_client.get(f"{M}/runs/{run['id']}/timeline"), other_client.post(f"{M}/runs/{run['id']}/cancel"),
               other_client.get(f"{M}/workflows/flaky"), other_client.post(f"{M}/runs", {"workflow": "flaky"},
                                                                           format="json"),
               other_client.post(f"{M}/dlq/{letter['id']}/replay")]

    # then
    assert [(a.status_code, a.json()["code"]) for a in answers] == [
        (404, "RUN_NOT_FOUND")] * 4 + [(404, "WORKFLOW_NOT_FOUND")] * 2 + [(404, "DEAD_LETTER_NOT_FOUND")]
    assert other_client.get(f"{M}/dlq").json() == []
    mark.assert_nothing_written()
