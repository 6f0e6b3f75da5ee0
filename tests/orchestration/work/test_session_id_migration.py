"""Moving sessions to a surrogate key (orchestration 0005) keeps every session, event,
timeline entry and task link, each still attached to its session; afterwards a session id is
unique per tenant only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction

from orchestration.work.models import Session, SessionEvent, SessionTask, SessionTimelineEvent, TaskTimelineEvent
from tests.support.migrations import latest, migrate

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("orchestration", "0004_task_session_versions")]
WHEN = datetime(2024, 2, 1, 12, 5, 23, 456000, tzinfo=UTC)
# Started in this order; ids sort the other way, so the numbering follows the start time.
SESSIONS = ["sess_c", "sess_b", "sess_a"]



def _fill_old_schema(old) -> int:  # type: ignore[no-untyped-def]
    tenant = old.get_model("tenancy", "Tenant").objects.create(slug="moved", name="Moved")
    project = old.get_model("orchestration", "Project").objects.create(
        id="proj_1", tenant_id=tenant.pk, name="P", created_at=WHEN, updated_at=WHEN)
    Task = old.get_model("orchestration", "Task")
    tasks = [Task.objects.create(id=f"task_{i}", tenant_id=tenant.pk, project=project, title=f"t{i}",
                                 created_at=WHEN, updated_at=WHEN) for i in range(2)]
    for n, sid in enumerate(SESSIONS):
        old.get_model("orchestration", "Session").objects.create(
            id=sid, tenant_id=tenant.pk, project=project, name=f"S {sid}", agent_id="a", status="running",
            env={"K": sid}, metadata={"n": n}, hostname="h", platform="linux", version=n + 1,
            started_at=WHEN + timedelta(seconds=n), last_activity=WHEN + timedelta(seconds=n))
        for i, task in enumerate(tasks[:n + 1]):
            old.get_model("orchestration", "SessionTask").objects.create(session_id=sid, task=task)
            old.get_model("orchestration", "TaskTimelineEvent").objects.create(
                id=f"evt_t{n}{i}", task=task, type="session_started", timestamp=WHEN, session_id=sid)
        old.get_model("orchestration", "SessionEvent").objects.create(
            id=f"evt_e{n}", session_id=sid, type="x", data={"sid": sid}, timestamp=WHEN)
        old.get_model("orchestration", "SessionTimelineEvent").objects.create(
            id=f"evt_l{n}", session_id=sid, type="progress", message=sid, task_id="task_0", timestamp=WHEN)
    return int(tenant.pk)


SESSION_COLUMNS = ("id", "tenant_id", "project_id", "name", "agent_id", "status", "env", "metadata", "hostname",
                   "platform", "version", "started_at", "last_activity", "completed_at")


def test_sessions_and_everything_attached_to_them_survive_the_new_key():
    # given: the schema before the change, with sessions, their events, timelines and links
    executor = migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        tenant_id = _fill_old_schema(old)
        OldSession = old.get_model("orchestration", "Session")
        before = sorted(OldSession.objects.values_list(*SESSION_COLUMNS))
        links = sorted(old.get_model("orchestration", "SessionTask").objects.values_list("session_id", "task_id"))
        events = sorted(old.get_model("orchestration", "SessionEvent").objects.values_list(
            "id", "session_id", "type", "data", "timestamp"))
        timeline = sorted(old.get_model("orchestration", "SessionTimelineEvent").objects.values_list(
            "id", "session_id", "type", "message", "task_id", "timestamp"))
        task_timeline = sorted(old.get_model("orchestration", "TaskTimelineEvent").objects.values_list(
            "id", "task_id", "session_id"))
    finally:
        # when: migrated forward to today's schema (also what leaves the database for other tests)
        migrate(latest())

    # then: every row and column kept, each child attached to the same session as before
    assert sorted(Session.objects.values_list(*SESSION_COLUMNS)) == before
    assert sorted(SessionTask.objects.values_list("session__id", "task_id")) == links == [
        ("sess_a", "task_0"), ("sess_a", "task_1"), ("sess_b", "task_0"), ("sess_b", "task_1"), ("sess_c", "task_0")]
    assert sorted(SessionEvent.objects.values_list("id", "session__id", "type", "data", "timestamp")) == events
    assert sorted(SessionTimelineEvent.objects.values_list(
        "id", "session__id", "type", "message", "task_id", "timestamp")) == timeline
    assert sorted(TaskTimelineEvent.objects.values_list("id", "task_id", "session_id")) == task_timeline
    assert len(events) == len(timeline) == 3
    # numbered in start order; new sessions continue after the numbers given
    assert list(Session.objects.order_by("pk_id").values_list("id", flat=True)) == SESSIONS
    old_session = Session.objects.get(id="sess_a")
    newer = Session.objects.create(id="sess_new", tenant_id=tenant_id, project_id="proj_1", name="n",
                                   started_at=WHEN, last_activity=WHEN)
    assert newer.pk > old_session.pk
    # and an id is unique per tenant only
    other = Session.objects.create(id="sess_a", tenant_id=Session.objects.model._meta.get_field("tenant")
                                   .related_model.objects.create(slug="b", name="B").pk,
                                   project_id="proj_1", name="theirs", started_at=WHEN, last_activity=WHEN)
    assert Session.objects.filter(id="sess_a").count() == 2 and other.pk != old_session.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        Session.objects.create(id="sess_a", tenant_id=tenant_id, project_id="proj_1", name="dup",
                               started_at=WHEN, last_activity=WHEN)


def test_going_back_keeps_every_session_and_what_is_attached_to_it():
    # given: today's schema with sessions, their events, timelines and task links
    executor = migrate(BEFORE)
    try:
        _fill_old_schema(executor.loader.project_state(BEFORE).apps)
    finally:
        migrate(latest())
    now = sorted(Session.objects.values_list(*SESSION_COLUMNS))
    links = sorted(SessionTask.objects.values_list("session__id", "task_id"))
    events = sorted(SessionEvent.objects.values_list("id", "session__id", "data"))
    timeline = sorted(SessionTimelineEvent.objects.values_list("id", "session__id", "message"))
    try:
        # when: migrated back to the schema before the change
        old = migrate(BEFORE).loader.project_state(BEFORE).apps

        # then: the same rows, the children attached by the string id again
        assert sorted(old.get_model("orchestration", "Session").objects.values_list(*SESSION_COLUMNS)) == now
        assert sorted(old.get_model("orchestration", "SessionTask").objects.values_list(
            "session_id", "task_id")) == links
        assert sorted(old.get_model("orchestration", "SessionEvent").objects.values_list(
            "id", "session_id", "data")) == events
        assert sorted(old.get_model("orchestration", "SessionTimelineEvent").objects.values_list(
            "id", "session_id", "message")) == timeline
        assert (len(now), len(links), len(events)) == (3, 5, 3)
    finally:
        migrate(latest())
