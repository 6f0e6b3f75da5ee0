"""The policy's decision points in the engine (maestro/policy, docs/operations.md "Policies"):
starting a run and running a playbook (API and admin), and each step's execution in the worker.
A denial is a 403 (or a dead step naming the policy), one denied audit row and ledger entry
naming the policy and the bundle's version, its ``audit:created`` event, and nothing else."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from maestro.policy.bundle import bundle_load
from orchestration.control.models.agents import AgentProfile
from orchestration.engine.clock import FixedClock, use
from orchestration.engine.models import DeadLetter, RunStep
from orchestration.runs.models import Run
from tests.maestro.policy.support import OpaLike, policy_dir
from tests.orchestration.engine.test_admin import ADMIN, messages_of
from tests.orchestration.engine.test_api import M, make_workflow
from tests.support.api import assert_error
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = "Requires the operator role"
SATURDAY_MORNING = datetime(2026, 11, 21, 10, 5, tzinfo=UTC)
MONDAY_MORNING = datetime(2026, 11, 23, 10, 5, tzinfo=UTC)


def use_examples(tmp_path, settings, *examples, data=None, rego=None):
    settings.MAESTRO_POLICY_DIRS = [str(policy_dir(tmp_path / "policies", *examples, data=data, rego=rego))]
    return bundle_load().revision


def assert_denial_recorded(mark, *, policy_id, actor, action, resource, details, actor_type="api"):
    """One denied audit row naming the policy and version, its ledger intake row carrying the
    same, its audit:created event, and no domain change."""
    audit = mark.assert_denied(policy_id=policy_id, actor=actor)
    assert (audit.action, audit.resource, audit.actor_type, audit.details) == (action, resource, actor_type, details)
    [intake] = mark.intakes()
    assert (intake.action_type, intake.resource_id, intake.actor_id) == (action, resource, actor)
    assert json.loads(intake.payload_jcs) == {"auditId": audit.id, "details": details, "policyId": policy_id,
                                              "status": "denied"}
    [event] = mark.events()
    assert (event.data["status"], event.data["policyId"]) == ("denied", policy_id)
    return audit


def test_a_viewer_starting_a_run_is_refused_by_the_default_policy(api_client, viewer_client, tenant, engine):
    # given
    make_workflow(api_client)
    started = api_client.post(f"{M}/runs", {"workflow": "deploy"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    revision = bundle_load().revision
    mark = Mark(tenant)

    # when: a new run, and the operator's run by its key
    refused = viewer_client.post(f"{M}/runs", {"workflow": "deploy"}, format="json")
    replayed = viewer_client.post(f"{M}/runs", {"workflow": "deploy"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    # then
    message = f"Denied by policy maestro.authz.roles@{revision}: {ROLES}"
    for answer in (refused, replayed):
        body = assert_error(answer, 403, "FORBIDDEN", message)
        assert body["details"] == {"policy": "maestro.authz.roles", "policyVersion": revision,
                                   "reasons": [{"rule": "roles", "message": ROLES}]}
    assert started.status_code == 201
    audits = mark.audit_summary()
    assert audits == [("run.create", "deploy", "denied", f"maestro.authz.roles@{revision}")] * 2
    assert Run.objects.count() == 1


def test_the_denial_is_one_audit_row_and_ledger_entry_and_nothing_else(api_client, viewer_client, tenant, engine):
    # given
    make_workflow(api_client)
    revision = bundle_load().revision
    mark = Mark(tenant)
    # when
    refused = viewer_client.post(f"{M}/runs", {"workflow": "deploy"}, format="json")
    # then
    assert refused.status_code == 403
    assert_denial_recorded(mark, policy_id=f"maestro.authz.roles@{revision}", actor="victor", action="run.create",
                           resource="deploy", details=f"Denied by policy maestro.authz.roles@{revision}: {ROLES}")
    assert engine.pending() == []


def test_operators_and_admins_start_runs_and_playbooks_as_before(api_client, admin_client, viewer_client, seeded,
                                                                 engine):
    # given
    make_workflow(api_client)
    api_client.post(f"{M}/playbooks", {"id": "pb-ok", "name": "OK", "actions": ["noop"], "isEnabled": True},
                    format="json")
    # when
    answers = [api_client.post(f"{M}/runs", {"workflow": "deploy"}, format="json"),
               admin_client.post(f"{M}/runs", {"workflow": "deploy"}, format="json"),
               api_client.post(f"{M}/playbooks/pb-ok/run", {}, format="json"),
               admin_client.post(f"{M}/playbooks/pb-ok/run", {}, format="json")]
    refused = viewer_client.post(f"{M}/playbooks/pb-ok/run", {}, format="json")
    engine.drain()
    # then
    assert [a.status_code for a in answers] == [201] * 4
    assert_error(refused, 403, "FORBIDDEN", f"Denied by policy maestro.authz.roles@{bundle_load().revision}: {ROLES}")
    assert sorted(Run.objects.values_list("status", flat=True)) == ["succeeded"] * 4


def test_who_may_run_a_playbook_is_an_operators_rule(api_client, admin_client, seeded, engine, tmp_path, settings):
    # given: only ada may run pb-ok (docs/policy-examples/playbook_runners.rego, with data)
    api_client.post(f"{M}/playbooks", {"id": "pb-ok", "name": "OK", "actions": ["noop"], "isEnabled": True},
                    format="json")
    revision = use_examples(tmp_path, settings, "playbook_runners",
                            data={"maestro": {"playbook_runners": {"pb-ok": ["ada"]}}})
    make_workflow(api_client)
    mark = Mark(seeded)

    # when
    olivia = api_client.post(f"{M}/playbooks/pb-ok/run", {}, format="json")
    ada = admin_client.post(f"{M}/playbooks/pb-ok/run", {}, format="json")
    other_playbook = api_client.post(f"{M}/playbooks/pb-restart-pods/run", {}, format="json")

    # then
    message = (f"Denied by policy maestro.authz.playbook_runners@{revision}: "
               "olivia may not run playbook pb-ok (runners: ada)")
    body = assert_error(olivia, 403, "FORBIDDEN", message)
    assert body["details"]["policy"] == "maestro.authz.playbook_runners"
    assert (ada.status_code, other_playbook.status_code) == (201, 201)
    assert [a for a in mark.audit_summary() if a[2] == "denied"] == [
        ("run.create", "pb-ok", "denied", f"maestro.authz.playbook_runners@{revision}")]
    assert sorted(Run.objects.values_list("pipeline", flat=True)) == ["playbook:pb-ok", "playbook:pb-restart-pods"]


def test_a_run_started_from_the_admin_is_decided_by_the_policy_too(staff, tenant, engine, tmp_path, settings):
    from orchestration.engine.services import workflow_create
    from tests.factories import SYSTEM

    # given: an operator's rule that freezes deploy in the admin (the admin passes via=admin)
    wf = workflow_create(tenant=tenant, actor=SYSTEM, name="deploy", spec_yaml="steps:\n  - id: a\n    action: noop\n")
    revision = use_examples(tmp_path, settings, rego=(
        'package maestro.authz\nimport rego.v1\n'
        'deny contains {"rule": "frozen", "message": sprintf("%s is frozen for %s (%s)", '
        '[input.workflow, input.subject.name, input.subject.role])} if {\n'
        '  input.operation == "run.start"\n  input.subject.via == "admin"\n}\n'))
    mark = Mark(tenant)

    # when
    started = staff.post(f"{ADMIN}/workflowdefinition/", {"action": "start_runs", "_selected_action": [wf.pk]},
                         follow=True)

    # then
    details = f"Denied by policy maestro.authz.frozen@{revision}: deploy is frozen for root (admin)"
    assert messages_of(started) == [f"Refused 1: deploy v1: {details}."]
    assert_denial_recorded(mark, policy_id=f"maestro.authz.frozen@{revision}", actor="root", action="run.create",
                           resource="deploy", details=details, actor_type="user")


class _Hooks:
    """A real HTTP endpoint for http.request steps; counts what reached it."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                hooks.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks():
    server = _Hooks()
    yield server
    server.close()


def test_which_hosts_http_request_may_call_is_data_per_tenant(api_client, other_client, tenant, other_tenant, engine,
                                                             hooks, tmp_path, settings):
    # given: the default tenant may call 127.0.0.1, the other tenant only its own host
    settings.MAESTRO_HTTP_ACTION_ALLOWED_HOSTS = ["*"]
    revision = use_examples(tmp_path, settings, "http_hosts", data={"maestro": {"http_hosts": {
        "default": ["127.0.0.1"], "other": ["hooks.other.example"]}}})
    spec = {"steps": [{"id": "call", "action": "http.request", "params": {"url": f"{hooks.url}/deploy"},
                       "retry": {"maxAttempts": 3, "initialInterval": 0.1}}]}
    make_workflow(api_client, name="notify", spec=spec)
    make_workflow(other_client, name="notify", spec=spec)
    ours = api_client.post(f"{M}/runs", {"workflow": "notify"}, format="json").json()
    theirs = other_client.post(f"{M}/runs", {"workflow": "notify"}, format="json").json()
    mark = Mark(other_tenant)

    # when
    outcomes = engine.drain()

    # then: ours called the host; theirs is dead at once (not retried), naming the policy
    error = (f"http.request: Denied by policy maestro.authz.http_hosts@{revision}: "
             "tenant other may not call 127.0.0.1")
    assert sorted(outcomes) == ["failed", "succeeded"]
    assert hooks.hits == ["/deploy"]
    assert Run.objects.get(pk=ours["id"]).status == "succeeded"
    step = RunStep.objects.get(run_id=theirs["id"])
    assert (step.status, step.attempts, step.error) == ("dead", 1, error)
    run = Run.objects.get(pk=theirs["id"])
    assert (run.status, run.error_message) == ("failed", f"step call failed: {error}")
    assert [(a.action, a.resource, a.status, a.policy_id, a.actor, a.tenant_id) for a in mark.audits()
            if a.status == "denied"] == [
        ("step.execute", f"{theirs['id']}/call", "denied", f"maestro.authz.http_hosts@{revision}", "engine",
         other_tenant.pk)]
    denied = [i for i in mark.intakes() if i.action_type == "step.execute"]
    assert [json.loads(i.payload_jcs)["policyId"] for i in denied] == [f"maestro.authz.http_hosts@{revision}"]
    assert DeadLetter.objects.filter(run_id=theirs["id"]).count() == 1


def _set_agent_run(api_client):
    spec = {"steps": [{"id": "route", "action": "maestro.set_agent",
                       "params": {"agentId": "planner", "routingWeight": 7}}]}
    make_workflow(api_client, name="reroute", spec=spec)
    return api_client.post(f"{M}/runs", {"workflow": "reroute"}, format="json").json()


def test_no_set_agent_outside_business_hours(api_client, seeded, engine, tmp_path, settings):
    # given
    revision = use_examples(tmp_path, settings, "business_hours")
    weight = AgentProfile.objects.get(tenant=seeded, slug="planner").routing_weight
    run = _set_agent_run(api_client)
    mark = Mark(seeded)

    # when: the worker runs it on a Saturday morning
    with use(FixedClock(start=SATURDAY_MORNING)):
        outcomes = engine.drain()

    # then: refused, the agent untouched
    error = (f"maestro.set_agent: Denied by policy maestro.authz.business_hours@{revision}: "
             "maestro.set_agent runs Monday to Friday, 09:00-17:00 UTC only (now Saturday 10:05 UTC)")
    assert outcomes == ["failed"]
    step = RunStep.objects.get(run_id=run["id"])
    assert (step.status, step.attempts, step.error) == ("dead", 1, error)
    assert AgentProfile.objects.get(tenant=seeded, slug="planner").routing_weight == weight
    assert [a for a in mark.audit_summary() if a[2] == "denied"] == [
        ("step.execute", f"{run['id']}/route", "denied", f"maestro.authz.business_hours@{revision}")]
    # the run went to running, the step was refused, died, and failed its run: nothing else
    assert [a.action for a in mark.audits()] == ["run.update", "step.execute", "step.dead", "run.update"]


def test_set_agent_runs_in_business_hours(api_client, seeded, engine, tmp_path, settings):
    use_examples(tmp_path, settings, "business_hours")
    run = _set_agent_run(api_client)
    with use(FixedClock(start=MONDAY_MORNING)):
        outcomes = engine.drain()
    assert outcomes == ["succeeded"]
    assert Run.objects.get(pk=run["id"]).status == "succeeded"
    assert AgentProfile.objects.get(tenant=seeded, slug="planner").routing_weight == 7


def test_an_engine_that_cannot_answer_denies_steps_and_runs(api_client, tenant, engine, tmp_path, settings):
    # given: a run started while the policy answered, then the policy directory gone
    make_workflow(api_client, spec={"steps": [{"id": "a", "action": "noop", "retry": {"maxAttempts": 3}}]})
    run = api_client.post(f"{M}/runs", {"workflow": "deploy"}, format="json").json()
    settings.MAESTRO_POLICY_DIRS = [str(tmp_path / "gone")]
    mark = Mark(tenant)

    # when
    outcomes = engine.drain()
    refused = api_client.post(f"{M}/runs", {"workflow": "deploy"}, format="json")
    settings.MAESTRO_POLICY_DIRS = []  # back: the dead step is replayed and runs
    letter = DeadLetter.objects.get(run_id=run["id"])
    replayed = api_client.post(f"{M}/dlq/{letter.id}/replay")
    after = engine.drain()

    # then
    reason = f"the policy engine could not answer: policy files unreadable: policy directory {tmp_path / 'gone'} " \
             "does not exist"
    assert outcomes == ["failed"]
    assert letter.error == f"noop: Denied by policy policy_engine.unavailable: {reason}"
    assert letter.attempts == 1
    body = assert_error(refused, 403, "FORBIDDEN", f"Denied by policy policy_engine.unavailable: {reason}")
    assert body["details"] == {"policy": "policy_engine.unavailable", "policyVersion": "",
                               "reasons": [{"rule": "unavailable", "message": reason}]}
    assert [a for a in mark.audit_summary() if a[2] == "denied"] == [
        ("step.execute", f"{run['id']}/a", "denied", "policy_engine.unavailable"),
        ("run.create", "deploy", "denied", "policy_engine.unavailable")]
    assert (replayed.status_code, after) == (200, ["succeeded"])
    assert Run.objects.get(pk=run["id"]).status == "succeeded"


def test_an_opa_server_decides_the_api_and_the_worker(api_client, viewer_client, tenant, engine, tmp_path, settings):
    from io import StringIO

    from django.core.management import call_command

    # given: the shipped policy and the business-hours rule, served by an OPA server
    use_examples(tmp_path, settings, "business_hours")
    out = StringIO()
    call_command("maestro_policy_bundle", out=str(tmp_path / "bundle"), stdout=out)
    revision = out.getvalue().strip()
    settings.MAESTRO_POLICY_DIRS = []
    make_workflow(api_client, spec={"steps": [{"id": "a", "action": "maestro.set_agent",
                                               "params": {"agentId": "nobody"}}]})
    with OpaLike(tmp_path / "bundle") as opa:
        settings.MAESTRO_OPA_URL = opa.url
        # when
        refused = viewer_client.post(f"{M}/runs", {"workflow": "deploy"}, format="json")
        run = api_client.post(f"{M}/runs", {"workflow": "deploy"}, format="json").json()
        with use(FixedClock(start=SATURDAY_MORNING)):
            outcomes = engine.drain()

    # then
    assert_error(refused, 403, "FORBIDDEN", f"Denied by policy maestro.authz.roles@{revision}: {ROLES}")
    assert outcomes == ["failed"]
    assert RunStep.objects.get(run_id=run["id"]).error.startswith(
        f"maestro.set_agent: Denied by policy maestro.authz.business_hours@{revision}: ")
    assert [body["input"]["operation"] for _, body in opa.requests] == ["run.start", "run.start", "step.execute"]
    assert opa.requests[2][1]["input"]["step"] == {"id": "a", "action": "maestro.set_agent",
                                                   "params": {"agentId": "nobody"}, "host": None}
    assert opa.requests[2][1]["input"]["run"] == {"id": run["id"], "pipeline": "deploy", "executor": ""}


def test_a_step_a_worker_carries_on_with_is_decided_too(api_client, seeded, engine, tmp_path, settings):
    # given: a noop that releases a set_agent step, which the worker runs straight after it
    settings.MAESTRO_ENGINE_CARRY_STEPS = 5
    revision = use_examples(tmp_path, settings, "business_hours")
    make_workflow(api_client, name="reroute", spec={"steps": [
        {"id": "a", "action": "noop"},
        {"id": "b", "action": "maestro.set_agent", "params": {"agentId": "planner", "routingWeight": 7},
         "dependsOn": ["a"]}]})
    run = api_client.post(f"{M}/runs", {"workflow": "reroute"}, format="json").json()
    weight = AgentProfile.objects.get(tenant=seeded, slug="planner").routing_weight
    mark = Mark(seeded)

    # when: one message, on a Saturday morning
    with use(FixedClock(start=SATURDAY_MORNING)):
        outcomes = engine.drain()

    # then: b was refused in the same worker turn, with no message of its own
    assert outcomes == ["succeeded"]
    assert dict(RunStep.objects.filter(run_id=run["id"]).values_list("step_id", "status")) == {
        "a": "succeeded", "b": "dead"}
    assert RunStep.objects.get(run_id=run["id"], step_id="b").error.startswith(
        f"maestro.set_agent: Denied by policy maestro.authz.business_hours@{revision}: ")
    assert AgentProfile.objects.get(tenant=seeded, slug="planner").routing_weight == weight
    assert [a for a in mark.audit_summary() if a[2] == "denied"] == [
        ("step.execute", f"{run['id']}/b", "denied", f"maestro.authz.business_hours@{revision}")]
