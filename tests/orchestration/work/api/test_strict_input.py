"""Bad input to the projects/tasks/sessions API is refused with the field named, and nothing
is stored; every body the old clients (agent-maestro at 26aaeb8: CLI, agents UI, server tests)
send stays accepted."""

from __future__ import annotations

import pytest

from orchestration.work.models import Session, Task, TaskTimelineEvent
from tests.support.api import assert_error
from tests.support.writes import Mark


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/tasks", {"title": "t", "status": "banana"}, "status"),
    ("/api/tasks", {"title": "t", "colour": "red"}, "colour"),
    ("/api/tasks", {"title": "t", "priority": "urgent"}, "priority"),
    ("/api/sessions", {"taskIds": [], "strategy": "random"}, "strategy"),
    ("/api/sessions", {"taskIds": [], "tenant": 2}, "tenant"),
    ("/api/sessions/spawn", {"taskIds": ["x"], "manifest": {}}, "manifest"),
])
def test_a_bad_create_is_refused_naming_the_field(api_client, tenant, project, path, body, field):
    # given
    before = Mark(tenant)
    # when
    r = api_client.post(path, {"projectId": project.id, **body}, format="json")
    # then
    answer = assert_error(r, 400, "VALIDATION_ERROR")
    assert answer["message"].startswith(f"{field}: ")
    assert list(answer["details"]["fields"]) == [field]
    before.assert_nothing_written()


@pytest.mark.parametrize(("body", "field"), [
    ({"status": "banana"}, "status"),
    ({"titel": "typo"}, "titel"),
    ({"sessionStatus": "sleeping"}, "sessionStatus"),
    ({"timeline": [{"message": "m", "kind": "x"}]}, "timeline"),
])
def test_a_bad_task_update_is_refused_naming_the_field(api_client, tenant, task, body, field):
    before = Mark(tenant)
    r = api_client.patch(f"/api/tasks/{task.id}", body, format="json")
    answer = assert_error(r, 400, "VALIDATION_ERROR")
    assert list(answer["details"]["fields"]) == [field]
    before.assert_nothing_written()


def test_a_bad_session_update_or_subtask_is_refused(api_client, tenant, project, task, make_session):
    session = make_session(project, [task])
    before = Mark(tenant)
    assert_error(api_client.patch(f"/api/sessions/{session.id}", {"state": "x"}, format="json"), 400,
                 "VALIDATION_ERROR")
    assert_error(api_client.post(f"/api/sessions/{session.id}/events", {"type": "t", "payload": 1}, format="json"),
                 400, "VALIDATION_ERROR")
    assert_error(api_client.post(f"/api/tasks/{task.id}/subtasks", {"title": "s", "done": True}, format="json"),
                 400, "VALIDATION_ERROR")
    before.assert_nothing_written()


def test_a_task_created_with_a_valid_status_starts_in_it(api_client, project):
    r = api_client.post("/api/tasks", {"projectId": project.id, "title": "t", "status": "in_progress"}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["status"] == "in_progress" and r.json()["startedAt"] == r.json()["createdAt"]
    todo = api_client.post("/api/tasks", {"projectId": project.id, "title": "t", "status": "todo"}, format="json")
    assert todo.json()["status"] == "pending"  # the old clients' word for it


# --- what the old clients send -------------------------------------------------------------


def test_the_agents_ui_project_sync_and_task_dialog_are_accepted(api_client, project):
    # the UI re-creates local projects with their own timestamps (initApp.ts)
    r = api_client.post("/api/projects", {"name": "Local", "workingDir": "/w", "description": "",
                                          "createdAt": 1706789123456, "updatedAt": 1706789123456}, format="json")
    assert r.status_code == 201, r.content
    # the create dialog sends a model choice (MaestroPanel.tsx)
    r = api_client.post("/api/tasks", {"projectId": project.id, "title": "t", "description": "", "initialPrompt": "",
                                       "priority": "high", "skillIds": ["s"], "model": "sonnet"}, format="json")
    assert r.status_code == 201, r.content
    # the status dropdown sends server-owned timestamps, which the server sets itself
    task_id = r.json()["id"]
    r = api_client.patch(f"/api/tasks/{task_id}", {"status": "in_progress", "startedAt": 1}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["startedAt"] > 1
    r = api_client.patch(f"/api/tasks/{task_id}", {"status": "completed", "completedAt": 1}, format="json")
    assert r.json()["status"] == "completed" and r.json()["completedAt"] > 1


def test_a_session_reporting_on_its_task_is_stored_with_a_timeline_entry(api_client, tenant, task):
    # given: the old CLI's `report progress --task` / `worker init`
    before = Mark(tenant)
    # when
    r = api_client.patch(f"/api/tasks/{task.id}", {"sessionStatus": "working", "updateSource": "session",
                                                   "sessionId": "sess_1"}, format="json")
    # then
    assert r.status_code == 200, r.content
    assert r.json()["sessionStatus"] == "working"
    assert Task.objects.get(id=task.id).session_status == "working"
    entry = TaskTimelineEvent.objects.filter(task_id=task.id).order_by("-pk_id").first()
    assert (entry.type, entry.session_id, entry.message) == ("progress", "sess_1", "sess_1 reported working")
    before.assert_written(["audit:created", "task:updated"], action="task.update", resource=task.id)
    assert before.audits()[0].details == "Updated session_status"


def test_the_old_cli_session_register_complete_and_spawn_are_accepted(api_client, project, task):
    # `session register` (SessionStart hook): a client-chosen id and a strategy
    r = api_client.post("/api/sessions", {"id": "test-session-123", "projectId": project.id, "taskIds": [task.id],
                                          "name": "s", "status": "running", "strategy": "queue",
                                          "metadata": {"role": "worker"}}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["metadata"] == {"role": "worker", "strategy": "queue"}
    # `session complete` (SessionEnd hook) sends completedAt with the status
    r = api_client.patch("/api/sessions/test-session-123", {"status": "completed", "completedAt": 1}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "completed" and r.json()["completedAt"] > 1
    # events and timeline entries as the UI types them, with their own id and timestamp
    r = api_client.patch("/api/sessions/test-session-123", {
        "events": [{"id": "e1", "timestamp": 1, "type": "file_modified", "data": {"file": "a"}}],
        "timeline": [{"id": "t1", "timestamp": 1, "type": "task_status_changed", "message": "m",
                      "taskId": task.id}]}, format="json")
    assert r.status_code == 200, r.content
    # `session spawn` from inside a session names the parent `sessionId` (DESIGN §4.1)
    r = api_client.post("/api/sessions/spawn", {"projectId": project.id, "taskIds": [task.id], "role": "worker",
                                                "spawnSource": "session", "sessionId": "test-session-123",
                                                "skills": ["maestro-worker"], "sessionName": "child",
                                                "spawnReason": "split", "strategy": "simple", "model": "sonnet",
                                                "context": {"primaryTask": {"id": task.id}}}, format="json")
    assert r.status_code == 201, r.content
    metadata = Session.objects.get(id=r.json()["sessionId"]).metadata
    assert (metadata["spawnedBy"], metadata["spawnReason"], metadata["strategy"]) == (
        "test-session-123", "split", "simple")


def test_bodiless_writes_with_a_json_content_type_are_accepted(api_client, project, task, make_session):
    # the UI and CLI send Content-Type: application/json on bodiless POST and DELETE
    session = make_session(project)
    r = api_client.post(f"/api/sessions/{session.id}/tasks/{task.id}", content_type="application/json")
    assert r.status_code == 200, r.content
    r = api_client.delete(f"/api/sessions/{session.id}/tasks/{task.id}", content_type="application/json")
    assert r.status_code == 200, r.content
