"""Linking tasks to sessions: POST/DELETE /api/sessions/{id}/tasks/{taskId} and DELETE
/api/sessions/{id} (both sides stay in step; timelines record the start and end)."""

from __future__ import annotations

from datetime import UTC, datetime

from maestro.core.wire import to_ms
from orchestration.work.models import Session, SessionEvent, SessionTask, TaskTimelineEvent
from tests.factories import make_task
from tests.support.api import assert_error
from tests.support.writes import Mark

SESSION_KEYS = {"id", "projectId", "taskIds", "name", "agentId", "status", "env", "events", "timeline", "metadata",
                "version",
                "hostname", "platform", "startedAt", "lastActivity", "completedAt"}
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def test_delete_session_ends_it_on_its_tasks(api_client, tenant, project, task, make_session):
    # given
    second = make_task(tenant, project, "second")
    session = make_session(project, [task, second])
    other = make_session(project, [task])
    api_client.post(f"/api/sessions/{session.id}/events", {"type": "x"}, format="json")
    before = Mark(tenant)
    # when
    r = api_client.delete(f"/api/sessions/{session.id}")
    # then
    assert r.status_code == 200, r.content
    assert r.json() == {"success": True, "id": session.id}
    assert not Session.objects.filter(id=session.id).exists()
    assert not SessionEvent.objects.exists()
    first_now = api_client.get(f"/api/tasks/{task.id}").json()
    assert first_now["sessionIds"] == [other.id]
    assert [(e["type"], e.get("sessionId")) for e in first_now["timeline"]] == [
        ("created", None), ("session_started", session.id), ("session_started", other.id),
        ("session_ended", session.id)]
    second_now = api_client.get(f"/api/tasks/{second.id}").json()
    assert second_now["sessionIds"] == []
    assert [e["type"] for e in second_now["timeline"]] == ["created", "session_started", "session_ended"]
    before.assert_written(["audit:created", "session:deleted", "task:session_removed", "task:updated",
                           "task:session_removed", "task:updated"], action="session.delete", resource=session.id)
    events = before.events()
    assert events[1].data == {"id": session.id}
    assert events[2].data == {"sessionId": session.id, "taskId": task.id}
    assert events[3].data == first_now


def test_delete_missing_session_is_404(api_client, tenant):
    # given
    before = Mark(tenant)
    # when
    r = api_client.delete("/api/sessions/sess_nope")
    # then
    assert_error(r, 404, "SESSION_NOT_FOUND")
    before.assert_nothing_written()


def test_add_task_to_session(api_client, tenant, project, task, make_session):
    # given
    session = make_session(project)
    Session.objects.filter(id=session.id).update(last_activity=LONG_AGO)
    before = Mark(tenant)
    # when
    r = api_client.post(f"/api/sessions/{session.id}/tasks/{task.id}")
    # then
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == SESSION_KEYS
    assert body["taskIds"] == [task.id]
    assert body["lastActivity"] > to_ms(LONG_AGO)
    task_now = api_client.get(f"/api/tasks/{task.id}").json()
    assert task_now["sessionIds"] == [session.id]
    assert [(e["type"], e.get("sessionId")) for e in task_now["timeline"]] == [
        ("created", None), ("session_started", session.id)]
    before.assert_written(["audit:created", "session:updated", "session:task_added", "task:session_added",
                           "task:updated"], action="session.task_add", resource=session.id)
    events = before.events()
    assert events[1].data == body
    assert events[2].data == events[3].data == {"sessionId": session.id, "taskId": task.id}
    assert events[4].data == task_now


def test_add_task_to_session_is_idempotent(api_client, tenant, project, task, make_session):
    # given
    session = make_session(project)
    api_client.post(f"/api/sessions/{session.id}/tasks/{task.id}")
    before = Mark(tenant)
    # when
    r = api_client.post(f"/api/sessions/{session.id}/tasks/{task.id}")
    # then
    assert r.status_code == 200, r.content
    assert r.json()["taskIds"] == [task.id]
    assert api_client.get(f"/api/tasks/{task.id}").json()["sessionIds"] == [session.id]
    assert SessionTask.objects.filter(session=session, task=task).count() == 1
    assert TaskTimelineEvent.objects.filter(task=task, type="session_started").count() == 1
    before.assert_written(["audit:created", "session:updated"], action="session.task_add")


def test_add_task_to_session_errors(api_client, tenant, project, other_project, task, make_session,
                                    other_tenant, foreign_project):
    # given
    session = make_session(project)
    elsewhere = make_task(tenant, other_project, "elsewhere")
    foreign_task = make_task(other_tenant, foreign_project, "theirs")
    foreign_session = make_session(foreign_project)
    before = Mark(tenant)
    # when
    other_project_task = api_client.post(f"/api/sessions/{session.id}/tasks/{elsewhere.id}")
    missing_task = api_client.post(f"/api/sessions/{session.id}/tasks/task_nope")
    their_task = api_client.post(f"/api/sessions/{session.id}/tasks/{foreign_task.id}")
    missing_session = api_client.post(f"/api/sessions/sess_nope/tasks/{task.id}")
    their_session = api_client.post(f"/api/sessions/{foreign_session.id}/tasks/{task.id}")
    # then
    assert_error(other_project_task, 400, "VALIDATION_ERROR")
    assert_error(missing_task, 404, "TASK_NOT_FOUND")
    assert_error(their_task, 404, "TASK_NOT_FOUND")
    assert_error(missing_session, 404, "SESSION_NOT_FOUND")
    assert_error(their_session, 404, "SESSION_NOT_FOUND")
    before.assert_nothing_written()


def test_remove_task_from_session(api_client, tenant, project, task, make_session):
    # given
    session = make_session(project, [task])
    before = Mark(tenant)
    # when
    r = api_client.delete(f"/api/sessions/{session.id}/tasks/{task.id}")
    # then
    assert r.status_code == 200, r.content
    assert r.json()["taskIds"] == []
    task_now = api_client.get(f"/api/tasks/{task.id}").json()
    assert task_now["sessionIds"] == []
    assert [e["type"] for e in task_now["timeline"]] == ["created", "session_started", "session_ended"]
    before.assert_written(["audit:created", "session:updated", "session:task_removed", "task:session_removed",
                           "task:updated"], action="session.task_remove", resource=session.id)


def test_remove_unlinked_task_changes_nothing_but_activity(api_client, tenant, project, task, make_session):
    # given
    session = make_session(project)
    before = Mark(tenant)
    # when
    r = api_client.delete(f"/api/sessions/{session.id}/tasks/{task.id}")
    # then
    assert r.status_code == 200, r.content
    assert [e["type"] for e in api_client.get(f"/api/tasks/{task.id}").json()["timeline"]] == ["created"]
    before.assert_written(["audit:created", "session:updated"], action="session.task_remove")


def test_remove_task_errors(api_client, tenant, project, task, make_session):
    # given
    session = make_session(project, [task])
    before = Mark(tenant)
    # when
    missing_task = api_client.delete(f"/api/sessions/{session.id}/tasks/task_nope")
    missing_session = api_client.delete(f"/api/sessions/sess_nope/tasks/{task.id}")
    # then
    assert_error(missing_task, 404, "TASK_NOT_FOUND")
    assert_error(missing_session, 404, "SESSION_NOT_FOUND")
    before.assert_nothing_written()
