from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from orchestration.engine.models import DeadLetter, RunStep, WorkflowDefinition
from orchestration.runs.models import Run
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN = "/admin/orchestration"
YAML = "steps:\n  - id: a\n    action: noop\n  - id: b\n    action: fail\n    dependsOn: [a]\n"


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_workflow_added_in_the_admin_is_checked_like_the_api_and_recorded(staff, tenant):
    # given
    mark = Mark(tenant)
    bad = {"tenant": tenant.pk, "name": "deploy", "spec_yaml": "steps:\n  - id: a\n    action: nope\n",
           "is_enabled": "on"}

    # when / then: refused on the form, nothing written
    refused = staff.post(f"{ADMIN}/workflowdefinition/add/", bad)
    assert refused.status_code == 200
    assert "Step a: unknown action nope (step a)" in refused.content.decode()
    mark.assert_nothing_written()

    # when
    added = staff.post(f"{ADMIN}/workflowdefinition/add/", {**bad, "spec_yaml": YAML}, follow=True)

    # then
    assert added.status_code == 200
    wf = WorkflowDefinition.objects.get()
    assert (wf.name, wf.version, wf.spec["steps"][1]) == ("deploy", 1, {"id": "b", "action": "fail",
                                                                        "dependsOn": ["a"]})
    assert [(a.action, a.actor, a.actor_type) for a in mark.audits()] == [("workflow.create", "root", "user")]


def test_runs_start_cancel_and_dead_letters_replay_from_the_admin(staff, tenant, engine):
    from orchestration.engine.services import workflow_create
    from tests.factories import SYSTEM

    # given
    wf = workflow_create(tenant=tenant, actor=SYSTEM, name="deploy", spec_yaml=YAML)

    # when: started from the definitions' list, run until b is dead
    started = staff.post(f"{ADMIN}/workflowdefinition/", {"action": "start_runs", "_selected_action": [wf.pk]},
                         follow=True)
    engine.drain()
    run = Run.objects.get()
    page = staff.get(f"{ADMIN}/run/{run.pk}/change/")
    letter = DeadLetter.objects.get()
    replayed = staff.post(f"{ADMIN}/deadletter/", {"action": "replay", "_selected_action": [letter.pk]},
                          follow=True)
    cancelled = staff.post(f"{ADMIN}/run/", {"action": "cancel_runs", "_selected_action": [run.pk]}, follow=True)

    # then
    assert messages_of(started) == ["Started 1: deploy v1."]
    assert page.status_code == 200 and "fail: execution 1" in page.content.decode()
    assert messages_of(replayed)[-1] == f"Replayed 1: {letter.pk}."
    assert messages_of(cancelled)[-1] == f"Cancelled 1: {run.pk}."
    assert Run.objects.get().status == "cancelled"
    assert dict(RunStep.objects.values_list("step_id", "status")) == {"a": "succeeded", "b": "cancelled"}
