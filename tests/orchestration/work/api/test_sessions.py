from __future__ import annotations

from datetime import UTC, datetime

from maestro.core.wire import to_ms
from orchestration.work.models import Session, SessionEvent, SessionTimelineEvent, TaskTimelineEvent
from tests.factories import make_task
from tests.support.api import assert_error, is_id
from tests.support.writes import Mark

SESSION_KEYS = {"id", "projectId", "taskIds", "name", "agentId", "status", "env", "events", "timeline", "metadata",
                "version",
                "hostname", "platform", "startedAt", "lastActivity", "completedAt"}
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def test_create_session_links_both_sides(api_client, tenant, project, task):
    # given
    second = make_task(tenant, project, "second")
    before = Mark(tenant)
    # when
    r = api_client.post("/api/sessions", {"projectId": project.id, "taskIds": [task.id, second.id]}, format="json")
    # then
    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) == SESSION_KEYS
    assert is_id("sess", body["id"])
    assert {k: body[k] for k in SESSION_KEYS - {"id", "name", "startedAt", "lastActivity"}} == {
        "projectId": project.id, "taskIds": [task.id, second.id], "agentId": None, "status": "running", "env": {},
        "events": [], "timeline": [], "metadata": {}, "hostname": "", "platform": "", "completedAt": None,
        "version": 1,
    }
    assert body["name"] == f"Session {body['id']}"
    assert isinstance(body["startedAt"], int) and body["lastActivity"] == body["startedAt"]
    for t in (task, second):
        task_now = api_client.get(f"/api/tasks/{t.id}").json()
        assert task_now["sessionIds"] == [body["id"]]
        assert [(e["type"], e.get("sessionId")) for e in task_now["timeline"]] == [
            ("created", None), ("session_started", body["id"])]
    before.assert_written(
        ["audit:created", "session:created", "task:session_added", "task:updated", "task:session_added",
         "task:updated"], action="session.create", resource=body["id"])
    events = before.events()
    assert events[1].data == body
    assert events[2].data == {"sessionId": body["id"], "taskId": task.id}
    assert events[3].data == api_client.get(f"/api/tasks/{task.id}").json()
    assert events[4].data == {"sessionId": body["id"], "taskId": second.id}


def test_create_session_with_all_fields(api_client, project, task):
    # when
    r = api_client.post("/api/sessions", {
        "projectId": project.id, "taskIds": [task.id], "id": "sess_1706789177158_uq80idw37", "name": "Worker 3",
        "agentId": "planner", "status": "spawning", "env": {"A": "1"}, "metadata": {"k": [1]},
        "hostname": "devbox", "platform": "linux",
    }, format="json")
    # then
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["id"], body["name"], body["agentId"], body["status"]) == (
        "sess_1706789177158_uq80idw37", "Worker 3", "planner", "spawning")
    assert (body["env"], body["metadata"], body["hostname"], body["platform"]) == (
        {"A": "1"}, {"k": [1]}, "devbox", "linux")


def test_create_session_with_duplicate_id_is_409_and_recorded_as_denied(api_client, tenant, project, task):
    # given
    api_client.post("/api/sessions", {"projectId": project.id, "taskIds": [], "id": "sess_dup"}, format="json")
    before = Mark(tenant)
    # when
    r = api_client.post("/api/sessions", {"projectId": project.id, "taskIds": [task.id], "id": "sess_dup"},
                        format="json")
    # then
    body = assert_error(r, 409, "CONFLICT", "Session sess_dup already exists")
    assert body["details"] == {"id": "sess_dup", "policy": "unique_id"}
    denial = before.assert_denied(policy_id="unique_id", actor="olivia")
    assert (denial.action, denial.resource) == ("session.create", "sess_dup")


def test_create_session_accepts_legacy_task_id(api_client, project, task):
    # when
    r = api_client.post("/api/sessions", {"projectId": project.id, "taskId": task.id}, format="json")
    # then
    assert r.status_code == 201, r.content
    assert r.json()["taskIds"] == [task.id]
    assert api_client.get(f"/api/tasks/{task.id}").json()["sessionIds"] == [r.json()["id"]]


def test_create_session_merges_task_id_into_task_ids_without_duplicates(api_client, tenant, project, task):
    # given
    second = make_task(tenant, project, "second")
    # when
    r = api_client.post("/api/sessions", {"projectId": project.id, "taskIds": [task.id, task.id],
                                          "taskId": second.id}, format="json")
    # then
    assert r.status_code == 201, r.content
    assert r.json()["taskIds"] == [task.id, second.id]
    assert TaskTimelineEvent.objects.filter(task=task, type="session_started").count() == 1


def test_create_session_with_empty_task_ids(api_client, project):
    # when
    r = api_client.post("/api/sessions", {"projectId": project.id, "taskIds": []}, format="json")
    # then
    assert r.status_code == 201, r.content
    assert r.json()["taskIds"] == []


def test_create_session_bad_input(api_client, tenant, project, task):
    # given
    before = Mark(tenant)
    # when
    responses = {
        "no project": api_client.post("/api/sessions", {"taskIds": [task.id]}, format="json"),
        "no tasks": api_client.post("/api/sessions", {"projectId": project.id}, format="json"),
        "taskIds object": api_client.post("/api/sessions", {"projectId": project.id, "taskIds": {"a": 1}},
                                          format="json"),
        "taskIds string": api_client.post("/api/sessions", {"projectId": project.id, "taskIds": task.id},
                                          format="json"),
        "status": api_client.post("/api/sessions", {"projectId": project.id, "taskIds": [], "status": "banana"},
                                  format="json"),
        "env values": api_client.post("/api/sessions", {"projectId": project.id, "taskIds": [], "env": {"A": 1}},
                                      format="json"),
        "metadata list": api_client.post("/api/sessions", {"projectId": project.id, "taskIds": [],
                                                           "metadata": [1]}, format="json"),
        "name number": api_client.post("/api/sessions", {"projectId": project.id, "taskIds": [], "name": 5},
                                       format="json"),
        "id too long": api_client.post("/api/sessions", {"projectId": project.id, "taskIds": [], "id": "s" * 41},
                                       format="json"),
        "id with a slash": api_client.post("/api/sessions", {"projectId": project.id, "taskIds": [], "id": "a/b"},
                                           format="json"),
    }
    # then
    for r in responses.values():
        assert_error(r, 400, "VALIDATION_ERROR")
    assert responses["no project"].json()["message"] == "projectId is required"
    assert responses["no tasks"].json()["message"] == "taskIds is required"
    before.assert_nothing_written()


def test_create_session_with_unknown_task_is_404(api_client, tenant, project, task):
    # given
    before = Mark(tenant)
    # when
    r = api_client.post("/api/sessions", {"projectId": project.id, "taskIds": [task.id, "task_nope"]}, format="json")
    # then
    body = assert_error(r, 404, "TASK_NOT_FOUND")
    assert body["details"] == {"taskIds": ["task_nope"]}
    before.assert_nothing_written()


def test_create_session_with_task_of_another_project_is_400(api_client, tenant, project, other_project, task):
    # given
    elsewhere = make_task(tenant, other_project, "elsewhere")
    before = Mark(tenant)
    # when
    r = api_client.post("/api/sessions", {"projectId": project.id, "taskIds": [task.id, elsewhere.id]},
                        format="json")
    # then
    body = assert_error(r, 400, "VALIDATION_ERROR")
    assert body["details"] == {"taskIds": [elsewhere.id]}
    before.assert_nothing_written()


def test_create_session_in_unknown_project_is_404(api_client, tenant, foreign_project):
    # given
    before = Mark(tenant)
    # when
    unknown = api_client.post("/api/sessions", {"projectId": "proj_nope", "taskIds": []}, format="json")
    foreign = api_client.post("/api/sessions", {"projectId": foreign_project.id, "taskIds": []}, format="json")
    # then
    assert_error(unknown, 404, "PROJECT_NOT_FOUND")
    assert_error(foreign, 404, "PROJECT_NOT_FOUND")
    before.assert_nothing_written()


def test_get_session_and_missing_session(api_client, project, make_session):
    # given
    session = make_session(project)
    # when
    found = api_client.get(f"/api/sessions/{session.id}")
    missing = api_client.get("/api/sessions/sess_missing")
    # then
    assert found.status_code == 200
    assert found.json()["id"] == session.id
    body = assert_error(missing, 404, "SESSION_NOT_FOUND", "Session not found")
    assert body["details"] == {"id": "sess_missing"}


def test_list_sessions_and_filters(api_client, tenant, project, other_project, task, make_session, other_tenant,
                                   foreign_project):
    # given
    elsewhere = make_task(tenant, other_project, "elsewhere")
    running = make_session(project, [task])
    spawning = make_session(project, [], status="spawning")
    done = make_session(project, [task], status="completed")
    failed = make_session(other_project, [elsewhere], status="failed")
    stopped = make_session(project, [], status="stopped")
    make_session(foreign_project)

    def ids(query):
        r = api_client.get(f"/api/sessions{query}")
        assert r.status_code == 200, r.content
        return [s["id"] for s in r.json()]

    # then
    assert ids("") == [running.id, spawning.id, done.id, failed.id, stopped.id]
    assert ids(f"?projectId={project.id}") == [running.id, spawning.id, done.id, stopped.id]
    assert ids(f"?projectId={other_project.id}") == [failed.id]
    assert ids(f"?taskId={task.id}") == [running.id, done.id]
    assert ids("?status=completed") == [done.id]
    assert ids("?active=true") == [running.id, spawning.id]
    assert ids(f"?active=true&taskId={task.id}") == [running.id]
    assert ids("?active=false") == [running.id, spawning.id, done.id, failed.id, stopped.id]
    assert_error(api_client.get("/api/sessions?status=banana"), 400, "VALIDATION_ERROR")


def test_patch_session_fields_bumps_last_activity(api_client, tenant, project, make_session):
    # given
    session = make_session(project, [], env={"A": "1"})
    Session.objects.filter(id=session.id).update(last_activity=LONG_AGO)
    before = Mark(tenant)
    # when
    r = api_client.patch(f"/api/sessions/{session.id}", {"name": "renamed", "agentId": "coder",
                                                         "env": {"B": "2"}}, format="json")
    # then
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["name"], body["agentId"], body["env"], body["status"]) == ("renamed", "coder", {"B": "2"}, "running")
    assert body["lastActivity"] > to_ms(LONG_AGO)
    assert body["startedAt"] == to_ms(session.started_at)
    before.assert_written(["audit:created", "session:updated"], action="session.update", resource=session.id)
    assert before.events()[1].data == body


def test_patch_session_status_to_an_end_state_sets_completed_at(api_client, project, make_session):
    # given
    session = make_session(project)
    # when
    r = api_client.patch(f"/api/sessions/{session.id}", {"status": "completed"}, format="json")
    # then
    assert r.json()["status"] == "completed"
    assert isinstance(r.json()["completedAt"], int)


def test_patch_session_events_and_timeline_append(api_client, project, make_session):
    # given
    session = make_session(project)
    api_client.patch(f"/api/sessions/{session.id}", {"events": [{"type": "boot", "data": {"n": 1}}],
                                                     "timeline": [{"message": "started"}]}, format="json")
    # when
    r = api_client.patch(f"/api/sessions/{session.id}", {
        "events": [{"type": "tick"}],
        "timeline": [{"type": "milestone", "message": "m", "taskId": "task_x", "metadata": {"a": 1}}],
    }, format="json")
    # then
    assert r.status_code == 200, r.content
    body = r.json()
    assert [(e["type"], e["data"]) for e in body["events"]] == [("boot", {"n": 1}), ("tick", None)]
    assert all(is_id("evt", e["id"]) and isinstance(e["timestamp"], int) for e in body["events"])
    assert [(e["type"], e["message"]) for e in body["timeline"]] == [("progress", "started"), ("milestone", "m")]
    assert (body["timeline"][1]["taskId"], body["timeline"][1]["metadata"]) == ("task_x", {"a": 1})
    assert "taskId" not in body["timeline"][0]
    assert SessionEvent.objects.count() == 2 and SessionTimelineEvent.objects.count() == 2


def test_patch_session_task_ids_replaces_the_linked_set(api_client, tenant, project, task, make_session):
    # given
    keep = make_task(tenant, project, "keep")
    add = make_task(tenant, project, "add")
    session = make_session(project, [task, keep])
    before = Mark(tenant)
    # when
    r = api_client.patch(f"/api/sessions/{session.id}", {"taskIds": [keep.id, add.id]}, format="json")
    # then
    assert r.status_code == 200, r.content
    assert r.json()["taskIds"] == [keep.id, add.id]
    assert api_client.get(f"/api/tasks/{task.id}").json()["sessionIds"] == []
    assert [e["type"] for e in api_client.get(f"/api/tasks/{task.id}").json()["timeline"]] == [
        "created", "session_started", "session_ended"]
    assert [e["type"] for e in api_client.get(f"/api/tasks/{keep.id}").json()["timeline"]] == [
        "created", "session_started"]
    assert api_client.get(f"/api/tasks/{add.id}").json()["sessionIds"] == [session.id]
    before.assert_written(["audit:created", "session:updated",
                           "session:task_removed", "task:session_removed", "task:updated",
                           "session:task_added", "task:session_added", "task:updated"],
                          action="session.update", resource=session.id)
    events = before.events()
    assert events[2].data == {"sessionId": session.id, "taskId": task.id}
    assert events[5].data == {"sessionId": session.id, "taskId": add.id}


def test_patch_session_bad_input(api_client, tenant, project, other_project, task, make_session):
    # given
    session = make_session(project, [task])
    elsewhere = make_task(tenant, other_project, "elsewhere")
    before = Mark(tenant)
    # when
    bad = [api_client.patch(f"/api/sessions/{session.id}", body, format="json") for body in (
        {"status": "banana"}, {"events": [{"data": 1}]}, {"events": {"type": "x"}}, {"timeline": [{"type": "x"}]},
        {"env": "A=1"}, {"taskIds": [elsewhere.id]}, {"metadata": "x"}, {"agentId": 7},
    )]
    unknown_task = api_client.patch(f"/api/sessions/{session.id}", {"taskIds": ["task_nope"]}, format="json")
    missing = api_client.patch("/api/sessions/sess_nope", {"name": "x"}, format="json")
    # then
    for r in bad:
        assert_error(r, 400, "VALIDATION_ERROR")
    assert_error(unknown_task, 404, "TASK_NOT_FOUND")
    assert_error(missing, 404, "SESSION_NOT_FOUND")
    before.assert_nothing_written()


def test_post_session_event(api_client, tenant, project, make_session):
    # given
    session = make_session(project)
    Session.objects.filter(id=session.id).update(last_activity=LONG_AGO)
    before = Mark(tenant)
    # when
    r = api_client.post(f"/api/sessions/{session.id}/events", {"type": "tool_call", "data": {"tool": "ls"}},
                        format="json")
    # then
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == SESSION_KEYS
    assert [(e["type"], e["data"]) for e in body["events"]] == [("tool_call", {"tool": "ls"})]
    assert body["lastActivity"] > to_ms(LONG_AGO)
    before.assert_written(["audit:created", "session:updated"], action="session.event_add", resource=session.id)
    assert before.events()[1].data == body


def test_post_session_event_bad_input(api_client, tenant, project, make_session):
    # given
    session = make_session(project)
    before = Mark(tenant)
    # when
    responses = [api_client.post(f"/api/sessions/{session.id}/events", body, format="json")
                 for body in ({}, {"type": ""}, {"type": 3}, [{"type": "x"}])]
    missing = api_client.post("/api/sessions/sess_nope/events", {"type": "x"}, format="json")
    # then
    for r in responses:
        assert_error(r, 400, "VALIDATION_ERROR")
    assert responses[0].json()["message"] == "type is required"
    assert_error(missing, 404, "SESSION_NOT_FOUND")
    before.assert_nothing_written()


def test_post_session_timeline(api_client, tenant, project, task, make_session):
    # given
    session = make_session(project, [task])
    Session.objects.filter(id=session.id).update(last_activity=LONG_AGO)
    before = Mark(tenant)
    # when
    default = api_client.post(f"/api/sessions/{session.id}/timeline", {"message": "working"}, format="json")
    full = api_client.post(f"/api/sessions/{session.id}/timeline",
                           {"type": "task_completed", "message": "done", "taskId": task.id, "metadata": {"n": 2}},
                           format="json")
    # then
    assert default.status_code == 200, default.content
    assert full.status_code == 200, full.content
    timeline = full.json()["timeline"]
    assert [(e["type"], e["message"]) for e in timeline] == [("progress", "working"), ("task_completed", "done")]
    assert (timeline[1]["taskId"], timeline[1]["metadata"]) == (task.id, {"n": 2})
    assert default.json()["lastActivity"] > to_ms(LONG_AGO)
    assert [a.action for a in before.audits()] == ["session.timeline_add", "session.timeline_add"]
    assert before.event_types() == ["audit:created", "session:updated"] * 2


def test_post_session_timeline_bad_input(api_client, tenant, project, make_session):
    # given
    session = make_session(project)
    before = Mark(tenant)
    # when
    responses = [api_client.post(f"/api/sessions/{session.id}/timeline", body, format="json")
                 for body in ({}, {"message": ""}, {"message": "x", "metadata": [1]}, {"message": "x", "type": 1},
                              {"message": "x", "taskId": 5})]
    # then
    for r in responses:
        assert_error(r, 400, "VALIDATION_ERROR")
    assert responses[0].json()["message"] == "message is required"
    before.assert_nothing_written()
