"""Every domain object's change page links to what was recorded about it: its audit events and
its ledger entries, each the admin's list narrowed to exactly that object."""

from __future__ import annotations

import html
import re

import pytest

from ledger.models import LedgerEntry
from maestro.write_path.models import AuditEvent
from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.experiments import Experiment
from orchestration.control.models.loops import AutonomicLoop
from orchestration.control.models.merge_trains import MergeTrain
from orchestration.control.models.playbooks import Playbook
from orchestration.work.services.sessions import session_create
from tests.factories import SYSTEM, make_project, make_run, make_task
from tests.ledger.conftest import sequence

pytestmark = pytest.mark.django_db


def link(page: bytes, link_id: str) -> str:
    found = re.search(rf'<a href="([^"]+)" id="{link_id}">', page.decode())
    assert found, page.decode()[:3000]
    return html.unescape(found.group(1))


def listed(client, url: str) -> list:
    response = client.get(url)
    assert response.status_code == 200, url  # an unknown filter would redirect to ?e=1
    return list(response.context["cl"].queryset)


def objects(tenant):
    project = make_project(tenant)
    task = make_task(tenant, project)
    session = session_create(tenant=tenant, actor=SYSTEM, project=project, task_ids=[task.id], name="s1")
    return [
        ("work/project", project, "project", project.id),
        ("work/task", task, "task", task.id),
        ("work/session", session, "session", session.id),
        ("orchestration/autonomicloop", AutonomicLoop.objects.get(tenant=tenant, slug="cost-optimization"), "loop",
         "cost-optimization"),
        ("orchestration/agentprofile", AgentProfile.objects.get(tenant=tenant, slug="coder"), "agent", "coder"),
        ("orchestration/experiment", Experiment.objects.get(tenant=tenant, slug="exp-001"), "experiment", "exp-001"),
        ("orchestration/playbook", Playbook.objects.get(tenant=tenant, slug="pb-restart-pods"), "playbook",
         "pb-restart-pods"),
        ("orchestration/mergetrain", MergeTrain.objects.filter(tenant=tenant).first(), "merge_train", None),
    ]


def test_each_object_links_to_exactly_its_audit_events_and_ledger_entries(staff, seeded, other_tenant):
    # given: the same objects in another tenant, so a filter that ignored the tenant would show more
    from orchestration.control.services.seed import seed_defaults

    seed_defaults(tenant=other_tenant, actor=SYSTEM)
    found = objects(seeded)
    sequence(seeded)
    sequence(other_tenant)
    assert AuditEvent.objects.filter(tenant=other_tenant, resource="cost-optimization").exists()

    for path, obj, resource_type, resource_id in found:
        resource_id = resource_id or obj.slug
        admin_path = path.replace("work/", "orchestration/")
        # when
        page = staff.get(f"/admin/{admin_path}/{obj.pk}/change/")
        assert page.status_code == 200, path
        audits = listed(staff, link(page.content, "maestro-audit-link"))
        entries = listed(staff, link(page.content, "maestro-ledger-link"))

        # then: every row of this object in this tenant, and nothing else
        expected_audits = set(AuditEvent.objects.filter(tenant=seeded, resource_type=resource_type,
                                                        resource=resource_id))
        expected_entries = set(LedgerEntry.objects.filter(tenant=seeded, resource_type=resource_type,
                                                          resource_id=resource_id))
        assert expected_audits and expected_entries, path
        assert set(audits) == expected_audits, path
        assert set(entries) == expected_entries, path


def test_a_run_links_to_its_records_too(staff, tenant):
    # given: a run the engine wrote (no records yet)
    run = make_run(tenant)

    # when
    page = staff.get(f"/admin/orchestration/run/{run.pk}/change/")

    # then
    assert page.status_code == 200
    url = link(page.content, "maestro-audit-link")
    assert f"resource={run.id}" in url and "resource_type=run" in url
    assert listed(staff, url) == []
    assert listed(staff, link(page.content, "maestro-ledger-link")) == []


# ---- the structured fields: pretty JSON with errors by path, lists of ids -------------------

def test_pretty_json_is_shown_indented_and_errors_say_where():
    from django import forms

    from maestro.admin_base import PrettyJSONField

    field = PrettyJSONField(shape="string map", required=False)
    assert field.prepare_value({"A": "1", "B": "x"}) == '{\n  "A": "1",\n  "B": "x"\n}'
    with pytest.raises(forms.ValidationError) as syntax:
        field.clean('{\n  "A": "1",\n  "B": 2,\n}')
    assert syntax.value.messages == ["Not valid JSON: Expecting property name enclosed in double quotes "
                                     "(line 4, column 1)."]
    with pytest.raises(forms.ValidationError) as shape:
        field.clean('{"A": "1", "B": 2, "my var": null}')
    assert shape.value.messages == ["$.B: must be a string, not 2", '$["my var"]: must be a string, not null']
    with pytest.raises(forms.ValidationError) as not_object:
        field.clean('["A"]')
    assert not_object.value.messages == ["$: must be a JSON object ({...})."]
    assert field.clean('{"A": "1"}') == {"A": "1"}


def test_a_list_of_ids_is_one_per_line_or_comma_separated():
    from django import forms

    from maestro.admin_base import ListField

    field = ListField()
    assert field.prepare_value(["a", "b"]) == "a\nb"
    assert field.clean("a, b , c") == ["a", "b", "c"]
    assert field.clean("code review\nx, y\n\n") == ["code review", "x, y"]  # lines keep their commas
    assert field.clean('["a", "b"]') == ["a", "b"]  # a JSON list pasted in
    assert field.clean("") == []
    assert field.has_changed(["code review", "x, y"], field.prepare_value(["code review", "x, y"])) is False
    with pytest.raises(forms.ValidationError) as too_long:
        field.clean("ok\n" + "x" * 201)
    assert too_long.value.messages == ["Item 2 is longer than 200 characters."]
