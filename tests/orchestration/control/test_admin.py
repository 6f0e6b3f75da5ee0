"""The admin as the operator's tool: every save, delete and action goes through the services
(audit row with the acting user, ledger intake, event), and a stale form never overwrites."""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages

from maestro.write_path.models import AuditEvent
from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.experiments import Experiment
from orchestration.control.models.loops import AutonomicLoop
from orchestration.control.models.merge_trains import MergeTrainPullRequest
from orchestration.control.models.playbooks import Playbook
from tests.factories import SYSTEM, make_run
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db

ADMIN = "/admin/orchestration"


def loop(tenant, slug="cost-optimization"):
    return AutonomicLoop.objects.get(tenant=tenant, slug=slug)


def loop_form(obj, **changes):
    data = {"name": obj.name, "type": obj.type, "status": obj.status, "config": json.dumps(obj.config),
            "expected_version": obj.version, "_save": "Save"}
    data.update(changes)
    return data


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_control_admin_pages_render(staff, seeded):
    # given
    run = make_run(seeded)

    # when / then
    assert staff.get(f"{ADMIN}/run/{run.pk}/change/").status_code == 200
    for model in ("autonomicloop", "agentprofile", "experiment", "playbook", "mergetrain", "run"):
        assert staff.get(f"{ADMIN}/{model}/").status_code == 200, model
    assert staff.get("/admin/write_path/auditevent/").status_code == 200
    for model, obj in (("autonomicloop", loop(seeded)), ("experiment", Experiment.objects.get(slug="exp-001")),
                       ("playbook", Playbook.objects.get(slug="pb-restart-pods")),
                       ("agentprofile", AgentProfile.objects.get(slug="coder"))):
        assert staff.get(f"{ADMIN}/{model}/{obj.pk}/change/").status_code == 200, model
    assert staff.get(f"{ADMIN}/autonomicloop/add/").status_code == 200


def test_admin_edit_goes_through_the_service(staff, seeded):
    # given
    obj = loop(seeded)
    mark = Mark(seeded)

    # when
    r = staff.post(f"{ADMIN}/autonomicloop/{obj.pk}/change/",
                   loop_form(obj, config=json.dumps({"threshold": 0.6, "interval": "10m"})),
                   HTTP_X_REQUEST_ID="req-admin-1")

    # then
    assert r.status_code == 302, r.content[:2000]
    obj.refresh_from_db()
    assert (obj.config, obj.version) == ({"threshold": 0.6, "interval": "10m"}, 2)
    assert [(a.action, a.actor, a.actor_type, a.status, a.request_id) for a in mark.audits()] == [
        ("loop.update", "root", "user", "allowed", "req-admin-1")]
    assert [i.action_type for i in mark.intakes()] == ["loop.update"]
    assert mark.event_types() == ["audit:created", "loop:updated"]


def test_admin_refuses_a_stale_form_instead_of_overwriting(staff, api_client, seeded):
    # given: the form was opened at version 1, then an API client paused the loop
    obj = loop(seeded)
    stale = loop_form(obj, name="Renamed in admin")
    api_client.post("/api/maestro/autonomic/loops/cost-optimization/toggle", {"status": "paused"}, format="json")
    mark = Mark(seeded)

    # when
    r = staff.post(f"{ADMIN}/autonomicloop/{obj.pk}/change/", stale)

    # then
    assert r.status_code == 200
    assert "was changed by someone else since you opened this form" in r.content.decode()
    obj.refresh_from_db()
    assert (obj.name, obj.status, obj.version) == ("Cost Optimization Loop", "paused", 2)
    assert [(a.action, a.actor, a.status, a.policy_id) for a in mark.audits()] == [
        ("loop.update", "root", "denied", "optimistic_concurrency")]
    assert mark.event_types() == ["audit:created"]


def test_a_save_that_loses_the_race_after_validation_is_refused_and_audited(seeded, rf, django_user_model):
    from django.contrib import admin as django_admin
    from django.contrib.messages.storage.fallback import FallbackStorage

    from orchestration.control.admin.loops import AutonomicLoopAdmin
    from orchestration.control.services.loops import loop_set_status

    # given: a valid form for version 1, and the row moves to version 2 before save_model runs
    request = rf.post("/")
    request.user = django_user_model.objects.create_superuser("root", "", "pw")
    request.session = {}
    request._messages = FallbackStorage(request)
    model_admin = AutonomicLoopAdmin(AutonomicLoop, django_admin.site)
    obj = loop(seeded)
    form = model_admin.get_form(request, obj, change=True)(data=loop_form(obj, name="Late edit"), instance=obj)
    assert form.is_valid(), form.errors
    loop_set_status(tenant=seeded, actor=SYSTEM, loop_id=obj.slug, status="paused")
    mark = Mark(seeded)

    # when
    model_admin.save_model(request, form.instance, form, change=True)

    # then
    assert loop(seeded).name == "Cost Optimization Loop"
    assert [str(m) for m in request._messages] == [
        "Not saved: The resource was changed by someone else (stale If-Match)"]
    assert mark.audit_summary() == [("loop.update", "cost-optimization", "denied", "optimistic_concurrency")]
    assert model_admin.response_change(request, form.instance).status_code == 302


def test_admin_config_is_validated_against_the_loop_type_schema(staff, seeded):
    # given
    obj = loop(seeded)

    # when
    r = staff.post(f"{ADMIN}/autonomicloop/{obj.pk}/change/",
                   loop_form(obj, config=json.dumps({"threshold": -7, "interval": "soon"})))

    # then
    assert r.status_code == 200
    page = r.content.decode()
    assert "Invalid for a cost loop: $.interval: &#x27;soon&#x27; does not match" in page
    assert "Invalid for a cost loop: $.threshold: -7 is less than the minimum of 0" in page
    assert loop(seeded).version == 1


def test_admin_add_loop_uses_the_service(staff, seeded):
    # when
    r = staff.post(f"{ADMIN}/autonomicloop/add/", {
        "tenant": seeded.pk, "slug": "latency-watch", "name": "Latency watch", "type": "performance",
        "status": "active", "config": json.dumps({"latencyP95TargetMs": 2000}), "_save": "Save"})

    # then
    assert r.status_code == 302, r.content[:3000]
    created = loop(seeded, "latency-watch")
    assert created.version == 1
    assert AuditEvent.objects.filter(action="loop.create", resource="latency-watch", actor="root").count() == 1


def test_pause_and_resume_actions_report_what_they_did(staff, seeded):
    # given
    pks = list(AutonomicLoop.objects.filter(tenant=seeded).values_list("pk", flat=True))
    mark = Mark(seeded)

    # when
    r = staff.post(f"{ADMIN}/autonomicloop/", {"action": "pause_loops", "_selected_action": pks}, follow=True)

    # then
    assert messages_of(r) == ["Paused 2: cost-optimization, reliability-guardian.",
                              "Unchanged 1: safety-sentinel (already paused)."]
    assert set(AutonomicLoop.objects.values_list("status", flat=True)) == {"paused"}
    assert [a.action for a in mark.audits()] == ["loop.set_status", "loop.set_status"]


def test_agent_admin_refuses_an_out_of_range_weight(staff, seeded):
    # given
    agent = AgentProfile.objects.get(slug="coder")
    data = {"name": agent.name, "role": agent.role, "model": agent.model, "status": agent.status,
            "routing_weight": 150, "expected_version": 1, "_save": "Save"}

    # when
    r = staff.post(f"{ADMIN}/agentprofile/{agent.pk}/change/", data)
    data["routing_weight"] = 40
    ok = staff.post(f"{ADMIN}/agentprofile/{agent.pk}/change/", data)

    # then
    assert r.status_code == 200
    assert ok.status_code == 302
    agent.refresh_from_db()
    assert (agent.routing_weight, agent.version) == (40, 2)


def test_experiment_actions_start_and_stop(staff, seeded):
    from orchestration.control.services.experiments import experiment_create

    # given
    draft = experiment_create(tenant=seeded, actor=SYSTEM, experiment_id="exp-draft", name="Draft",
                              variants=["a", "b"])
    running = Experiment.objects.get(slug="exp-001")

    # when
    started = staff.post(f"{ADMIN}/experiment/", {"action": "start_experiments",
                                                   "_selected_action": [draft.pk, running.pk]}, follow=True)
    stopped = staff.post(f"{ADMIN}/experiment/", {"action": "stop_experiments", "_selected_action": [running.pk]},
                         follow=True)

    # then
    assert messages_of(started) == ["Started 1: exp-draft.", "Unchanged 1: exp-001 (running)."]
    assert messages_of(stopped) == ["Stopped 1: exp-001."]
    assert dict(Experiment.objects.values_list("slug", "status")) == {"exp-draft": "running", "exp-001": "completed"}


def test_experiment_admin_validates_variant_weights(staff, seeded):
    # given
    exp = Experiment.objects.get(slug="exp-001")
    data = {"name": exp.name, "hypothesis": exp.hypothesis, "metrics": json.dumps(exp.metrics),
            "stop_conditions": "[]", "expected_version": 1, "_save": "Save",
            "variants": json.dumps([{"id": "control", "trafficWeight": 80}, {"id": "v2-prompt", "trafficWeight": 30}])}

    # when
    r = staff.post(f"{ADMIN}/experiment/{exp.pk}/change/", data)

    # then
    assert r.status_code == 200
    assert "traffic weights must sum to 100 (they sum to 110)" in r.content.decode()
    assert Experiment.objects.get(slug="exp-001").version == 1


def test_playbook_admin_edit_enable_disable_and_delete(staff, seeded):
    # given
    pb = Playbook.objects.get(slug="pb-restart-pods")
    data = {"name": pb.name, "description": pb.description, "is_enabled": "on",
            "triggers": "pod_crash_loop\noom_killed\n", "actions": "k8s.delete_pod", "expected_version": 1,
            "_save": "Save"}

    # when
    edited = staff.post(f"{ADMIN}/playbook/{pb.pk}/change/", data, follow=True)
    triggers_after_edit = Playbook.objects.get(slug="pb-restart-pods").triggers
    disabled = staff.post(f"{ADMIN}/playbook/", {"action": "disable_playbooks", "_selected_action": [pb.pk]},
                          follow=True)
    mark = Mark(seeded)
    deleted = staff.post(f"{ADMIN}/playbook/{pb.pk}/delete/", {"post": "yes"})

    # then
    assert edited.redirect_chain[0][1] == 302
    assert triggers_after_edit == ["pod_crash_loop", "oom_killed"]
    assert messages_of(disabled) == ["Disabled 1: pb-restart-pods."]
    assert deleted.status_code == 302
    assert not Playbook.objects.filter(slug="pb-restart-pods").exists()
    assert mark.audit_summary() == [("playbook.delete", "pb-restart-pods", "allowed", "")]
    assert mark.event_types() == ["audit:created", "playbook:deleted"]
    actions = list(AuditEvent.objects.filter(actor="root").order_by("id").values_list("action", flat=True))
    assert actions == ["playbook.update", "playbook.disable", "playbook.delete"]


def test_merge_train_pull_requests_are_saved_through_the_service(staff, seeded):
    from orchestration.control.models.merge_trains import MergeTrain

    # given
    train = MergeTrain.objects.get(slug="mt-main")
    data = {"status": "active", "expected_version": 1, "_save": "Save",
            "pull_requests-TOTAL_FORMS": 1, "pull_requests-INITIAL_FORMS": 0,
            "pull_requests-0-position": 0, "pull_requests-0-number": 42, "pull_requests-0-title": "feat: x",
            "pull_requests-0-author": "alice", "pull_requests-0-status": "running",
            "pull_requests-0-url": "https://git.example/pr/42"}

    # when
    r = staff.post(f"{ADMIN}/mergetrain/{train.pk}/change/", data)

    # then
    assert r.status_code == 302, r.content[:3000]
    assert list(MergeTrainPullRequest.objects.values_list("number", "status")) == [(42, "running")]
    train.refresh_from_db()
    assert train.version == 2
    assert AuditEvent.objects.filter(action="merge_train.pr_upsert", actor="root").count() == 1


def test_json_config_is_pretty_printed_and_stop_condition_errors_name_their_path(staff, seeded):
    # given
    exp = Experiment.objects.get(slug="exp-001")
    page = staff.get(f"{ADMIN}/autonomicloop/{loop(seeded).pk}/change/").content.decode()
    assert '<textarea name="config" cols="80" rows="' in page
    assert "{\n  &quot;" in page  # indented, one member per line
    mark = Mark(seeded)

    # when
    r = staff.post(f"{ADMIN}/experiment/{exp.pk}/change/", {
        "name": exp.name, "hypothesis": exp.hypothesis, "metrics": "{}", "expected_version": 1, "_save": "Save",
        "variants": json.dumps(["control", "v2-prompt"]),
        "stop_conditions": json.dumps([{"type": "maxObservations", "value": -3}])})

    # then
    assert r.status_code == 200
    errors = r.context["adminform"].form.errors["stop_conditions"]
    assert errors and all(e.startswith("$[0]") for e in errors), errors
    mark.assert_nothing_written()


@pytest.mark.parametrize(("model", "expected"), [
    ("autonomicloop", ["slug", "name", "type", "status", "last_run", "version", "updated_at", "tenant"]),
    ("agentprofile", ["slug", "name", "model", "status", "routing_weight", "metrics", "version", "updated_at",
                      "tenant"]),
    ("experiment", ["slug", "short_name", "status", "variant_count", "observation_count", "version", "updated_at",
                    "tenant"]),
    ("playbook", ["slug", "name", "is_enabled", "trigger_count", "action_count", "version", "updated_at", "tenant"]),
    ("mergetrain", ["slug", "status", "waiting_count", "version", "updated_at", "tenant"]),
    ("run", ["id", "pipeline", "status", "created_at", "duration_ms", "cost", "tenant"]),
])
def test_list_pages_show_the_columns_an_operator_scans_for(staff, seeded, model, expected):
    from tests.support.admin import columns

    make_run(seeded)
    assert columns(staff.get(f"{ADMIN}/{model}/")) == expected
    assert staff.get(f"{ADMIN}/{model}/?q=a&tenant__id__exact={seeded.pk}&o=3").status_code == 200


def test_list_counts_are_of_each_object(staff, seeded):
    # given
    exp = Experiment.objects.get(tenant=seeded, slug="exp-001")

    # when
    experiments = staff.get(f"{ADMIN}/experiment/").content.decode()
    trains = staff.get(f"{ADMIN}/mergetrain/").content.decode()
    playbooks = staff.get(f"{ADMIN}/playbook/").content.decode()

    # then
    assert f'<td class="field-variant_count">{exp.variant_rows.count()}</td>' in experiments
    pb = Playbook.objects.get(tenant=seeded, slug="pb-restart-pods")
    assert f'<td class="field-trigger_count">{len(pb.triggers)}</td>' in playbooks
    waiting = MergeTrainPullRequest.objects.filter(train__tenant=seeded,
                                                   status__in=MergeTrainPullRequest.ACTIVE).count()
    assert f'<td class="field-waiting_count">{waiting}</td>' in trains
