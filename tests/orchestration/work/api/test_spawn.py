from __future__ import annotations

from django.conf import settings

from orchestration.work.models import Session
from tests.factories import SYSTEM, make_task
from tests.support.api import assert_error, is_id
from tests.support.writes import Mark

CRITERION = "Task completion as described"


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


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
        "MAESTRO_STRATEGY": "simple",
    }
    assert session["env"] == env
    assert session["metadata"] == {"role": "worker", "skills": ["maestro-worker"], "model": None,
                                   "spawnSource": None, "spawnedBy": None, "context": {}}
    # the old CLI's manifest: its keys only, its vocabulary (a pending task is "todo")
    assert body["manifest"] == {
        "manifestVersion": "1.0",
        "role": "worker",
        "strategy": "simple",
        "tasks": [
            {"id": task.id, "title": task.title, "description": "", "acceptanceCriteria": [CRITERION],
             "projectId": project.id, "createdAt": iso(task.created_at), "parentId": None, "priority": "medium",
             "status": "todo"},
            {"id": second.id, "title": "second", "description": "d", "acceptanceCriteria": [CRITERION],
             "projectId": project.id, "createdAt": iso(second.created_at), "parentId": None, "priority": "high",
             "status": "todo", "metadata": {"initialPrompt": "go"}},
        ],
        "session": {"model": "sonnet", "permissionMode": "acceptEdits", "thinkingMode": "auto"},
        "context": {"custom": {"taskIds": [task.id, second.id], "sessionId": session_id,
                               "sessionName": session["name"], "projectId": project.id, "projectName": "Payments",
                               "serverUrl": settings.MAESTRO_PUBLIC_URL, "spawnSource": None, "spawnedBy": None}},
        "skills": ["maestro-worker"],
    }
    assert Session.objects.get(id=session_id).status == "spawning"
    assert api_client.get(f"/api/tasks/{task.id}").json()["sessionIds"] == [session_id]
    # the spawn request first (the old clients take the first message after a spawn as it), then
    # the session; the old clients' stream `/` shows all but the audit event
    assert before.audit_summary() == [("session.spawn", session_id, "allowed", "")]
    assert [i.action_type for i in before.intakes()] == ["session.spawn"]
    assert before.event_types() == ["session:spawn_request", "audit:created", "session:created", "task:session_added",
                                    "task:updated", "task:session_added", "task:updated"]
    assert [e.seq for e in before.events()] == list(range(before.seq + 1, before.seq + 8))
    assert [e.old_stream for e in before.events()] == [True, False, True, True, True, True, True]
    spawn_request = before.events()[0].data
    assert spawn_request == {"session": session, "projectId": project.id, "taskIds": [task.id, second.id],
                             "skillIds": ["maestro-worker"], "name": session["name"], "sessionId": session_id,
                             "manifest": body["manifest"]}
    # and the same manifest again, for a runner that starts the session later
    assert api_client.get(f"/api/sessions/{session_id}/manifest").json() == body["manifest"]


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
    assert body["session"]["env"]["MAESTRO_SKILLS"] == "maestro-orchestrator,git"
    assert body["session"]["env"]["MAESTRO_TASK_IDS"] == task.id
    manifest = body["manifest"]
    assert (manifest["role"], manifest["skills"], manifest["session"]["model"]) == (
        "orchestrator", ["maestro-orchestrator", "git"], "opus")
    assert [t["id"] for t in manifest["tasks"]] == [task.id]
    custom = manifest["context"]["custom"]
    assert (custom["spawnSource"], custom["spawnedBy"], custom["model"], custom["context"]) == (
        "ui", "sess_1_abcdefghi", "opus", {"why": "test"})


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


def test_spawn_from_a_session_names_its_parent_and_keeps_the_reason(api_client, project, task, make_session):
    # given: the old CLI, inside a session, names the spawning session `sessionId`
    parent = make_session(project, [task])
    # when
    r = api_client.post("/api/sessions/spawn", {
        "projectId": project.id, "taskIds": [task.id], "sessionId": parent.id, "spawnSource": "session",
        "spawnReason": "split the work", "strategy": "queue", "model": "claude-haiku-4",
    }, format="json")
    # then
    assert r.status_code == 201, r.content
    body = r.json()
    metadata = body["session"]["metadata"]
    assert (metadata["spawnedBy"], metadata["spawnSource"], metadata["spawnReason"], metadata["strategy"]) == (
        parent.id, "session", "split the work", "queue")
    manifest = body["manifest"]
    assert (manifest["strategy"], manifest["session"]["model"]) == ("queue", "haiku")
    assert (manifest["context"]["custom"]["spawnedBy"], manifest["context"]["custom"]["spawnReason"]) == (
        parent.id, "split the work")
    assert body["session"]["env"]["MAESTRO_STRATEGY"] == "queue"


def test_a_tree_strategy_is_kept_but_not_put_in_the_manifest(api_client, project, task):
    # when: the old CLI's schema knows only simple and queue
    r = api_client.post("/api/sessions/spawn", {"projectId": project.id, "taskIds": [task.id], "strategy": "tree"},
                        format="json")
    # then
    assert r.status_code == 201, r.content
    assert r.json()["session"]["metadata"]["strategy"] == "tree"
    assert "strategy" not in r.json()["manifest"]


def test_a_spawn_with_no_skills_has_none_in_its_manifest(api_client, project, task):
    # when
    r = api_client.post("/api/sessions/spawn", {"projectId": project.id, "taskIds": [task.id], "skills": []},
                        format="json")
    # then
    assert r.status_code == 201, r.content
    assert (r.json()["session"]["metadata"]["skills"], r.json()["manifest"]["skills"]) == ([], [])


def test_manifest_of_a_session_follows_its_tasks_and_project(api_client, tenant, project, task, make_session):
    # given: a session registered over POST /api/sessions, in a project with a working directory
    from orchestration.work.services.projects import project_update

    project_update(tenant=tenant, project_id=project.id, actor=SYSTEM, changes={"working_dir": "/srv/pay"})
    child = make_task(tenant, project, "child", parent_id=task.id, status="in_progress")
    session = make_session(project, [child, task])
    # when
    r = api_client.get(f"/api/sessions/{session.id}/manifest")
    # then
    assert r.status_code == 200, r.content
    manifest = r.json()
    assert (manifest["role"], manifest["strategy"], manifest["skills"]) == ("worker", "simple", ["maestro-worker"])
    assert manifest["session"] == {"model": "sonnet", "permissionMode": "acceptEdits", "thinkingMode": "auto",
                                   "workingDirectory": "/srv/pay"}
    assert [(t["id"], t["parentId"], t["status"]) for t in manifest["tasks"]] == [
        (child.id, task.id, "in_progress"), (task.id, None, "todo")]


def test_manifest_errors(api_client, tenant, project, make_session, other_tenant, foreign_project):
    # given
    empty = make_session(project, [])
    theirs = make_session(foreign_project, [])
    # then
    assert_error(api_client.get("/api/sessions/sess_nope/manifest"), 404, "SESSION_NOT_FOUND")
    assert_error(api_client.get(f"/api/sessions/{theirs.id}/manifest"), 404, "SESSION_NOT_FOUND")
    body = assert_error(api_client.get(f"/api/sessions/{empty.id}/manifest"), 409, "CONFLICT")
    assert body["message"] == f"Session {empty.id} has no tasks: a manifest names at least one"
