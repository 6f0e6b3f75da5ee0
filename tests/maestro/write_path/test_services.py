"""Services composed inside one outer transaction, and called outside of any request."""

from __future__ import annotations

import pytest
from django.db import transaction

from maestro.core.exceptions import MaestroError, NotFound
from maestro.write_path.models import AuditEvent
from maestro.write_path.services import service
from orchestration.work.models import Task, TaskTimelineEvent
from orchestration.work.services.projects import project_update
from orchestration.work.services.sessions import session_create, session_task_add
from orchestration.work.services.tasks import task_create, task_update
from realtime.models import Event
from tests.factories import SYSTEM, make_project
from tests.support.writes import Mark, head


def test_two_services_in_one_outer_unit_share_one_gapless_flush(tenant, project):
    # given
    before = Mark(tenant)
    # when
    with service():
        first = task_create(tenant=tenant, actor=SYSTEM, project=project, title="a")
        second = task_create(tenant=tenant, actor=SYSTEM, project=project, title="b")
        assert head(tenant) == before.seq  # nothing sequenced until the outer unit ends
    # then
    assert before.event_types() == ["audit:created", "task:created"] * 2
    assert [e.seq for e in before.events()] == [before.seq + i for i in range(1, 5)]
    assert [e.data["id"] for e in before.events()[1::2]] == [first.id, second.id]
    assert [(a.action, a.actor, a.actor_type, a.request_id) for a in before.audits()] == [
        ("task.create", "tests", "system", "")] * 2


def test_services_in_a_plain_outer_transaction_each_flush(tenant, project):
    # given
    before = Mark(tenant)
    # when
    with transaction.atomic():
        task_create(tenant=tenant, actor=SYSTEM, project=project, title="a")
        task_create(tenant=tenant, actor=SYSTEM, project=project, title="b")
    # then
    assert before.event_types() == ["audit:created", "task:created"] * 2
    assert head(tenant) == before.seq + 4


def test_a_failing_second_service_rolls_back_the_whole_unit(tenant, project):
    # given
    before = Mark(tenant)
    # when
    with pytest.raises(NotFound), service():
        task_create(tenant=tenant, actor=SYSTEM, project=project, title="a")
        task_update(tenant=tenant, task_id="task_missing", actor=SYSTEM, changes={"title": "x"})
    # then
    before.assert_nothing_written()
    assert not Task.objects.exists()


def test_a_caught_failure_inside_a_unit_leaves_no_event_behind(tenant, project):
    # given: an inner service fails after it recorded, and the caller carries on
    task = task_create(tenant=tenant, actor=SYSTEM, project=project, title="a")
    before = Mark(tenant)
    # when
    with service():
        task_update(tenant=tenant, task_id=task.id, actor=SYSTEM, changes={"title": "kept"})
        try:
            session_create(tenant=tenant, actor=SYSTEM, project=project, task_ids=[task.id], session_id="s" * 41)
        except MaestroError:
            pass
        except Exception as exc:  # full_clean refuses the id: a Django ValidationError
            assert type(exc).__name__ == "ValidationError"
    # then: only the update's rows and events
    assert Task.objects.get(id=task.id).title == "kept"
    assert [a.action for a in before.audits()] == ["task.update"]
    assert before.event_types() == ["audit:created", "task:updated"]


def test_events_recorded_by_a_rolled_back_savepoint_are_dropped(tenant, project):
    # given
    task = task_create(tenant=tenant, actor=SYSTEM, project=project, title="a")
    before = Mark(tenant)
    # when
    with service():
        try:
            with service():
                task_update(tenant=tenant, task_id=task.id, actor=SYSTEM, changes={"title": "gone"})
                raise RuntimeError("caller changes its mind")
        except RuntimeError:
            pass
        task_update(tenant=tenant, task_id=task.id, actor=SYSTEM, changes={"status": "in_progress"})
    # then
    row = Task.objects.get(id=task.id)
    assert (row.title, row.status) == ("a", "in_progress")
    assert [a.action for a in before.audits()] == ["task.update"]
    assert before.event_types() == ["audit:created", "task:updated"]
    assert before.events()[1].data["title"] == "a"
    assert [e.seq for e in before.events()] == [before.seq + 1, before.seq + 2]


def test_linking_twice_in_one_unit_links_once(tenant, project):
    # given
    task = task_create(tenant=tenant, actor=SYSTEM, project=project, title="a")
    session = session_create(tenant=tenant, actor=SYSTEM, project=project, task_ids=[])
    # when
    with service():
        session_task_add(tenant=tenant, session_id=session.id, task_id=task.id, actor=SYSTEM)
        session_task_add(tenant=tenant, session_id=session.id, task_id=task.id, actor=SYSTEM)
    # then
    assert list(task.session_links.values_list("session__id", flat=True)) == [session.id]
    assert TaskTimelineEvent.objects.filter(task=task, type="session_started").count() == 1
    assert AuditEvent.objects.filter(action="session.task_add").count() == 2


def test_stale_version_in_a_service_call_raises_changes_nothing_and_is_recorded_as_denied(tenant, project):
    # given
    before = Mark(tenant)
    # when
    with pytest.raises(MaestroError) as err:
        project_update(tenant=tenant, project_id=project.id, actor=SYSTEM, changes={"name": "x"},
                       expected_version=7)
    # then: the refusal is a denied row (the one refusal rule), nothing else changed
    assert (err.value.status_code, err.value.code) == (412, "PRECONDITION_FAILED")
    denial = before.assert_denied(policy_id="optimistic_concurrency", actor="tests")
    assert (denial.action, denial.resource) == ("project.update", project.id)


def test_services_work_for_a_second_tenant_with_its_own_seq(tenant, other_tenant, project):
    # given
    theirs = make_project(other_tenant, "theirs")
    mine_before, theirs_before = head(tenant), head(other_tenant)
    # when
    task_create(tenant=other_tenant, actor=SYSTEM, project=theirs, title="t")
    # then
    assert head(tenant) == mine_before
    assert head(other_tenant) == theirs_before + 2
    assert set(Event.objects.filter(seq__gt=theirs_before, tenant=other_tenant).values_list("type", flat=True)) == {
        "audit:created", "task:created"}


def test_task_in_a_project_of_another_tenant_is_refused(tenant, other_tenant):
    # given
    theirs = make_project(other_tenant, "theirs")
    mine = make_project(tenant, "mine")
    parent = task_create(tenant=other_tenant, actor=SYSTEM, project=theirs, title="p")
    before = Mark(tenant)
    # when
    with pytest.raises(MaestroError) as err:
        task_create(tenant=tenant, actor=SYSTEM, project=mine, title="x", parent_id=parent.id)
    # then
    assert err.value.status_code == 400
    before.assert_nothing_written()
