from __future__ import annotations

from django.conf import settings

from orchestration.work.models import Session
from tests.factories import make_task
from tests.support.api import assert_error, is_id
from tests.support.writes import Mark


def test_spawn_creates_a_spawning_session_and_its_manifest(api_client, tenant, project, task):
    # given
    second = make_task(tenant, project, "second", description="d", initial_prompt="go", priority="high")
    before = Mark(tenant)
    # when
    r = api_client.post("/api/sessions/spawn", {"projectId": project.id, "taskIds": [task.id, second.id]},
                        format="json")
    # then
    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) == {"success", "sessionId", "manifest", "session"}
    assert body["success"] is True
    session_id = body["sessionId"]
    assert is_id("sess", session_id)
    session = body["session"]
    assert (session["id"], session["status"], session["projectId"], session["taskIds"]) == (
        session_id, "spawning", project.id, [task.id, second.id])
    env = {
        "MAESTRO_SESSION_ID": session_id,
        "MAESTRO_PROJECT_ID": project.id,
        "MAESTRO_TASK_IDS": f"{task.id},{second.id}",
        "MAESTRO_SERVER_URL": settings.MAESTRO_PUBLIC_URL,
        "MAESTRO_SKILLS": "maestro-worker",
    }
    assert session["env"] == env
    assert session["metadata"] == {"role": "worker", "skills": ["maestro-worker"], "model": None,
                                   "spawnSource": None, "spawnedBy": None, "context": {}}
    manifest = body["manifest"]
    assert manifest["env"] == env
    assert (manifest["sessionId"], manifest["role"], manifest["skills"]) == (session_id, "worker",
                                                                             ["maestro-worker"])
    assert manifest["project"] == {"id": project.id, "name": "Payments", "workingDir": ""}
    assert manifest["tasks"][1] == {"id": second.id, "title": "second", "description": "d", "initialPrompt": "go",
                                    "priority": "high", "status": "pending", "parentId": None}
    assert [t["id"] for t in manifest["tasks"]] == [task.id, second.id]
    assert Session.objects.get(id=session_id).status == "spawning"
    assert api_client.get(f"/api/tasks/{task.id}").json()["sessionIds"] == [session_id]
    before.assert_written(["audit:created", "session:created", "task:session_added", "task:updated",
                           "task:session_added", "task:updated", "session:spawn_request"],
                          action="session.spawn", resource=session_id)
    spawn_request = before.events()[-1].data
    assert spawn_request == {"sessionId": session_id, "projectId": project.id, "manifest": manifest,
                             "session": session}


def test_spawn_with_options(api_client, project, task):
    # when
    r = api_client.post("/api/sessions/spawn", {
        "projectId": project.id, "taskIds": [task.id, task.id], "role": "orchestrator",
        "skills": ["maestro-orchestrator", "git"], "model": "opus", "sessionName": "Lead", "spawnSource": "ui",
        "spawnedBy": "sess_1_abcdefghi", "context": {"why": "test"},
    }, format="json")
    # then
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["session"]["name"] == "Lead"
    assert body["session"]["taskIds"] == [task.id]
    assert body["manifest"]["env"]["MAESTRO_SKILLS"] == "maestro-orchestrator,git"
    assert body["manifest"]["env"]["MAESTRO_TASK_IDS"] == task.id
    assert (body["manifest"]["role"], body["manifest"]["model"], body["manifest"]["context"]) == (
        "orchestrator", "opus", {"why": "test"})
    assert (body["manifest"]["spawnSource"], body["manifest"]["spawnedBy"]) == ("ui", "sess_1_abcdefghi")


def test_spawn_error_codes(api_client, tenant, project, other_project, task, foreign_project, other_tenant):
    # given
    elsewhere = make_task(tenant, other_project, "elsewhere")
    theirs = make_task(other_tenant, foreign_project, "theirs")
    before = Mark(tenant)

    def spawn(body):
        return api_client.post("/api/sessions/spawn", body, format="json")

    # then
    assert_error(spawn({"taskIds": [task.id]}), 400, "missing_project_id")
    assert_error(spawn({"projectId": "", "taskIds": [task.id]}), 400, "missing_project_id")
    assert_error(spawn({"projectId": 5, "taskIds": [task.id]}), 400, "missing_project_id")
    assert_error(spawn({"projectId": project.id}), 400, "invalid_task_ids")
    assert_error(spawn({"projectId": project.id, "taskIds": []}), 400, "invalid_task_ids")
    assert_error(spawn({"projectId": project.id, "taskIds": task.id}), 400, "invalid_task_ids")
    assert_error(spawn({"projectId": project.id, "taskIds": [1]}), 400, "invalid_task_ids")
    assert_error(spawn({"projectId": project.id, "taskIds": [elsewhere.id]}), 400, "invalid_task_ids")
    assert_error(spawn({"projectId": "proj_nope", "taskIds": [task.id]}), 404, "project_not_found")
    assert_error(spawn({"projectId": foreign_project.id, "taskIds": [task.id]}), 404, "project_not_found")
    body = assert_error(spawn({"projectId": project.id, "taskIds": [task.id, "task_nope"]}), 404, "task_not_found")
    assert body["details"] == {"taskIds": ["task_nope"]}
    assert_error(spawn({"projectId": project.id, "taskIds": [theirs.id]}), 404, "task_not_found")
    assert_error(spawn({"projectId": project.id, "taskIds": [task.id], "role": "admin"}), 400, "VALIDATION_ERROR")
    assert_error(spawn({"projectId": project.id, "taskIds": [task.id], "skills": "git"}), 400, "VALIDATION_ERROR")
    assert_error(spawn({"projectId": project.id, "taskIds": [task.id], "context": [1]}), 400, "VALIDATION_ERROR")
    before.assert_nothing_written()


def test_spawn_as_viewer_is_forbidden(viewer_client, tenant, project, task):
    # given
    before = Mark(tenant)
    # when
    r = viewer_client.post("/api/sessions/spawn", {"projectId": project.id, "taskIds": [task.id]}, format="json")
    # then
    assert_error(r, 403, "FORBIDDEN")
    before.assert_denied()
