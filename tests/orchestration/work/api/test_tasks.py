from __future__ import annotations

from datetime import UTC, datetime

from maestro.core.wire import to_ms
from orchestration.work.models import Session, Task, TaskTimelineEvent
from tests.factories import make_task
from tests.support.api import assert_error, is_id
from tests.support.writes import Mark

TASK_KEYS = {"id", "projectId", "parentId", "title", "description", "initialPrompt", "status", "priority",
             "sessionStatus", "version",
             "sessionIds", "skillIds", "agentIds", "dependencies", "subtasks", "timeline", "createdAt",
             "updatedAt", "startedAt", "completedAt"}
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def test_create_task_defaults(api_client, tenant, project):
    # given
    before = Mark(tenant)
    # when
    r = api_client.post("/api/tasks", {"projectId": project.id, "title": "Write it"}, format="json")
    # then
    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) == TASK_KEYS
    assert is_id("task", body["id"])
    assert {k: body[k] for k in TASK_KEYS - {"id", "timeline", "createdAt", "updatedAt"}} == {
        "projectId": project.id, "parentId": None, "title": "Write it", "description": "", "initialPrompt": "",
        "status": "pending", "priority": "medium", "sessionIds": [], "skillIds": [], "agentIds": [],
        "dependencies": [], "subtasks": [], "startedAt": None, "completedAt": None, "sessionStatus": None,
        "version": 1,
    }
    assert isinstance(body["createdAt"], int) and body["updatedAt"] == body["createdAt"]
    [created] = body["timeline"]
    assert is_id("evt", created["id"])
    assert created == {"id": created["id"], "type": "created", "timestamp": body["createdAt"],
                       "message": "Task created"}
    before.assert_written(["audit:created", "task:created"], action="task.create", resource=body["id"])
    assert before.events()[1].data == body
    assert before.events()[1].project_id == project.id


def test_create_task_with_all_fields(api_client, tenant, project, task):
    # given
    before = Mark(tenant)
    # when
    r = api_client.post("/api/tasks", {
        "projectId": project.id, "title": "Child", "parentId": task.id, "description": "d", "priority": "high",
        "initialPrompt": "go", "skillIds": ["s1", "s2"], "agentIds": ["a1"], "dependencies": [task.id],
    }, format="json")
    # then
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["parentId"], body["description"], body["priority"], body["initialPrompt"]) == (
        task.id, "d", "high", "go")
    assert (body["skillIds"], body["agentIds"], body["dependencies"]) == (["s1", "s2"], ["a1"], [task.id])
    assert Task.objects.get(id=body["id"]).parent_id == task.id
    # the event carries exactly what a later read returns
    assert before.events()[1].data == body == api_client.get(f"/api/tasks/{body['id']}").json()


def test_create_task_with_null_parent_is_a_root(api_client, project):
    # when
    r = api_client.post("/api/tasks", {"projectId": project.id, "title": "Root", "parentId": None}, format="json")
    # then
    assert r.status_code == 201, r.content
    assert r.json()["parentId"] is None


def test_create_task_requires_project_and_title(api_client, tenant, project):
    # given
    before = Mark(tenant)
    # when
    no_project = api_client.post("/api/tasks", {"title": "x"}, format="json")
    no_title = api_client.post("/api/tasks", {"projectId": project.id}, format="json")
    blank_title = api_client.post("/api/tasks", {"projectId": project.id, "title": " "}, format="json")
    # then
    assert_error(no_project, 400, "VALIDATION_ERROR", "projectId is required")
    assert_error(no_title, 400, "VALIDATION_ERROR", "title is required")
    assert_error(blank_title, 400, "VALIDATION_ERROR", "title is required")
    before.assert_nothing_written()


def test_create_task_in_unknown_or_foreign_project_is_404(api_client, tenant, foreign_project):
    # given
    before = Mark(tenant)
    # when
    unknown = api_client.post("/api/tasks", {"projectId": "proj_nope", "title": "x"}, format="json")
    foreign = api_client.post("/api/tasks", {"projectId": foreign_project.id, "title": "x"}, format="json")
    # then
    assert_error(unknown, 404, "PROJECT_NOT_FOUND")
    assert_error(foreign, 404, "PROJECT_NOT_FOUND")
    before.assert_nothing_written()


def test_create_task_with_parent_of_another_project_is_400(api_client, tenant, project, other_project):
    # given
    parent = make_task(tenant, other_project, "elsewhere")
    before = Mark(tenant)
    # when
    r = api_client.post("/api/tasks", {"projectId": project.id, "title": "x", "parentId": parent.id}, format="json")
    # then
    body = assert_error(r, 400, "VALIDATION_ERROR")
    assert body["details"] == {"parentId": parent.id}
    before.assert_nothing_written()


def test_create_task_with_parent_of_another_tenant_is_400_and_does_not_leak(api_client, tenant, project,
                                                                            other_tenant, foreign_project):
    # given
    foreign_parent = make_task(other_tenant, foreign_project)
    before = Mark(tenant)
    # when
    foreign = api_client.post("/api/tasks", {"projectId": project.id, "title": "x", "parentId": foreign_parent.id},
                              format="json")
    unknown = api_client.post("/api/tasks", {"projectId": project.id, "title": "x", "parentId": "task_nope"},
                              format="json")
    # then: the same answer as for an id that does not exist
    assert_error(foreign, 400, "VALIDATION_ERROR", "parentId does not name a task")
    assert_error(unknown, 400, "VALIDATION_ERROR", "parentId does not name a task")
    before.assert_nothing_written()


def test_get_task(api_client, task):
    # when
    r = api_client.get(f"/api/tasks/{task.id}")
    # then
    assert r.status_code == 200
    assert r.json()["id"] == task.id
    assert r.json()["title"] == "Write the report"


def test_get_missing_task_is_404(api_client, tenant):
    # when
    r = api_client.get("/api/tasks/task_missing")
    # then
    body = assert_error(r, 404, "TASK_NOT_FOUND", "Task not found")
    assert body["details"] == {"id": "task_missing"}


def test_patch_task_fields(api_client, tenant, task):
    # given
    before = Mark(tenant)
    # when
    r = api_client.patch(f"/api/tasks/{task.id}", {
        "title": "New", "description": "d", "priority": "low", "initialPrompt": "p", "skillIds": ["x"],
        "agentIds": ["a"], "dependencies": ["task_1_aaaaaaaaa"],
    }, format="json")
    # then
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["title"], body["description"], body["priority"], body["initialPrompt"]) == ("New", "d", "low", "p")
    assert (body["skillIds"], body["agentIds"], body["dependencies"]) == (["x"], ["a"], ["task_1_aaaaaaaaa"])
    assert body["status"] == "pending"
    assert [e["type"] for e in body["timeline"]] == ["created"]
    row = Task.objects.get(id=task.id)
    assert (row.title, row.skill_ids) == ("New", ["x"])
    before.assert_written(["audit:created", "task:updated"], action="task.update", resource=task.id)
    assert before.events()[1].data == body


def test_patch_task_leaves_unmentioned_fields_alone(api_client, tenant, project):
    # given
    task = make_task(tenant, project, "T", description="keep", priority="high", skill_ids=["s"])
    # when
    r = api_client.patch(f"/api/tasks/{task.id}", {"title": "T2"}, format="json")
    # then
    assert r.status_code == 200, r.content
    assert (r.json()["description"], r.json()["priority"], r.json()["skillIds"]) == ("keep", "high", ["s"])


def test_patch_status_sets_started_and_completed_once(api_client, task):
    # when
    started = api_client.patch(f"/api/tasks/{task.id}", {"status": "in_progress"}, format="json").json()
    # then
    assert started["status"] == "in_progress"
    assert isinstance(started["startedAt"], int) and started["completedAt"] is None

    # given: the first start lies in the past
    Task.objects.filter(id=task.id).update(started_at=LONG_AGO)
    # when: blocked, then in progress again
    api_client.patch(f"/api/tasks/{task.id}", {"status": "blocked"}, format="json")
    again = api_client.patch(f"/api/tasks/{task.id}", {"status": "in_progress"}, format="json").json()
    # then
    assert again["startedAt"] == to_ms(LONG_AGO)

    # when
    done = api_client.patch(f"/api/tasks/{task.id}", {"status": "completed"}, format="json").json()
    # then
    assert isinstance(done["completedAt"], int) and done["completedAt"] >= again["updatedAt"]
    assert done["startedAt"] == to_ms(LONG_AGO)

    # given
    Task.objects.filter(id=task.id).update(completed_at=LONG_AGO)
    # when: reopened and completed again
    api_client.patch(f"/api/tasks/{task.id}", {"status": "in_progress"}, format="json")
    redone = api_client.patch(f"/api/tasks/{task.id}", {"status": "completed"}, format="json").json()
    # then
    assert (redone["startedAt"], redone["completedAt"]) == (to_ms(LONG_AGO), to_ms(LONG_AGO))
    assert [e["type"] for e in redone["timeline"]] == ["created"] + ["task_status_changed"] * 6


def test_completing_directly_sets_completed_but_not_started(api_client, task):
    # when
    r = api_client.patch(f"/api/tasks/{task.id}", {"status": "completed"}, format="json")
    # then
    assert (r.json()["startedAt"], isinstance(r.json()["completedAt"], int)) == (None, True)


def test_patch_status_todo_alias_means_pending(api_client, task):
    # given
    api_client.patch(f"/api/tasks/{task.id}", {"status": "in_progress"}, format="json")
    # when
    r = api_client.patch(f"/api/tasks/{task.id}", {"status": "todo"}, format="json")
    # then
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "pending"
    assert Task.objects.get(id=task.id).status == "pending"


def test_patch_same_status_adds_no_status_change_entry(api_client, task):
    # when
    r = api_client.patch(f"/api/tasks/{task.id}", {"status": "pending"}, format="json")
    # then
    assert [e["type"] for e in r.json()["timeline"]] == ["created"]


def test_patch_timeline_appends_and_never_replaces(api_client, tenant, task):
    # given
    api_client.patch(f"/api/tasks/{task.id}", {"timeline": [{"type": "milestone", "message": "first"}]},
                     format="json")
    before = Mark(tenant)
    # when
    r = api_client.patch(f"/api/tasks/{task.id}", {"timeline": [
        {"message": "second"}, {"type": "blocker", "message": "third", "sessionId": "sess_1_aaaaaaaaa"},
    ]}, format="json")
    # then
    assert r.status_code == 200, r.content
    timeline = r.json()["timeline"]
    assert [(e["type"], e["message"]) for e in timeline] == [
        ("created", "Task created"), ("milestone", "first"), ("update", "second"), ("blocker", "third")]
    assert timeline[3]["sessionId"] == "sess_1_aaaaaaaaa"
    assert "sessionId" not in timeline[2]
    assert all(is_id("evt", e["id"]) for e in timeline)
    assert len({e["id"] for e in timeline}) == 4
    assert TaskTimelineEvent.objects.filter(task_id=task.id).count() == 4
    before.assert_written(["audit:created", "task:updated"], action="task.update")


def test_patch_with_unknown_enum_values_is_400(api_client, tenant, task):
    # given
    before = Mark(tenant)
    # when
    responses = [api_client.patch(f"/api/tasks/{task.id}", body, format="json") for body in (
        {"status": "banana"}, {"priority": "urgent"}, {"status": "PENDING"},
        {"timeline": [{"type": "gossip", "message": "x"}]}, {"title": "ok", "status": "done"},
        {"timeline": [{"type": "update"}]}, {"timeline": [{"message": ""}]}, {"timeline": [{"message": "x"}, 5]},
    )]
    # then
    for r in responses:
        assert_error(r, 400, "VALIDATION_ERROR")
    before.assert_nothing_written()


def test_create_with_unknown_priority_is_400(api_client, tenant, project):
    # given
    before = Mark(tenant)
    # when
    r = api_client.post("/api/tasks", {"projectId": project.id, "title": "x", "priority": "urgent"}, format="json")
    # then
    body = assert_error(r, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("priority:")
    before.assert_nothing_written()


def test_patch_missing_task_is_404(api_client, tenant):
    # given
    before = Mark(tenant)
    # when
    r = api_client.patch("/api/tasks/task_missing", {"title": "x"}, format="json")
    # then
    assert_error(r, 404, "TASK_NOT_FOUND")
    before.assert_nothing_written()


def test_delete_task_does_not_cascade(api_client, tenant, project, task, make_session):
    # given: a child and a session working on the task and another one
    child = make_task(tenant, project, "child", parent_id=task.id)
    sibling = make_task(tenant, project, "sibling")
    session = make_session(project, [task, sibling])
    before = Mark(tenant)
    # when
    r = api_client.delete(f"/api/tasks/{task.id}")
    # then
    assert r.status_code == 200, r.content
    assert r.json() == {"success": True, "id": task.id}
    assert not Task.objects.filter(id=task.id).exists()
    assert not TaskTimelineEvent.objects.filter(task_id=task.id).exists()
    child_now = api_client.get(f"/api/tasks/{child.id}").json()
    assert child_now["parentId"] is None
    session_now = api_client.get(f"/api/sessions/{session.id}").json()
    assert session_now["taskIds"] == [sibling.id]
    assert Session.objects.filter(id=session.id).exists()
    before.assert_written(["audit:created", "task:deleted", "session:task_removed", "task:updated"],
                          action="task.delete", resource=task.id)
    events = before.events()
    assert events[1].data == {"id": task.id}
    assert events[2].data == {"sessionId": session.id, "taskId": task.id}
    assert events[3].data == child_now


def test_delete_missing_task_is_404(api_client, tenant):
    # given
    before = Mark(tenant)
    # when
    r = api_client.delete("/api/tasks/task_missing")
    # then
    assert_error(r, 404, "TASK_NOT_FOUND")
    before.assert_nothing_written()


def test_children(api_client, tenant, project, task):
    # given
    first = make_task(tenant, project, "a", parent_id=task.id)
    second = make_task(tenant, project, "b", parent_id=task.id)
    make_task(tenant, project, "grandchild", parent_id=first.id)
    # when
    r = api_client.get(f"/api/tasks/{task.id}/children")
    # then
    assert r.status_code == 200
    assert [t["id"] for t in r.json()] == [first.id, second.id]
    assert api_client.get(f"/api/tasks/{second.id}/children").json() == []


def test_children_of_missing_parent_is_404(api_client, tenant):
    # when
    r = api_client.get("/api/tasks/task_missing/children")
    # then
    assert_error(r, 404, "TASK_NOT_FOUND")


def test_post_timeline_defaults_to_update(api_client, tenant, task):
    # given
    before = Mark(tenant)
    # when
    r = api_client.post(f"/api/tasks/{task.id}/timeline", {"message": "halfway"}, format="json")
    # then
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == TASK_KEYS
    assert [(e["type"], e["message"]) for e in body["timeline"]] == [("created", "Task created"),
                                                                     ("update", "halfway")]
    assert body["updatedAt"] >= body["createdAt"]
    before.assert_written(["audit:created", "task:updated"], action="task.timeline_add", resource=task.id)
    assert before.events()[1].data == body


def test_post_timeline_with_type_and_session(api_client, task):
    # when
    r = api_client.post(f"/api/tasks/{task.id}/timeline",
                        {"type": "milestone", "message": "shipped", "sessionId": "sess_1_abcdefghi"}, format="json")
    # then
    assert r.status_code == 200, r.content
    assert r.json()["timeline"][-1]["type"] == "milestone"
    assert r.json()["timeline"][-1]["sessionId"] == "sess_1_abcdefghi"


def test_post_timeline_bad_input(api_client, tenant, task):
    # given
    before = Mark(tenant)
    # when
    responses = [api_client.post(f"/api/tasks/{task.id}/timeline", body, format="json") for body in (
        {}, {"message": ""}, {"message": 5}, {"message": "x", "type": "gossip"}, {"message": "x", "sessionId": 3},
    )]
    # then
    for r in responses:
        assert_error(r, 400, "VALIDATION_ERROR")
    assert responses[0].json()["message"] == "message: This field is required."
    before.assert_nothing_written()


def test_post_timeline_on_missing_task_is_404(api_client, tenant):
    # given
    before = Mark(tenant)
    # when
    r = api_client.post("/api/tasks/task_missing/timeline", {"message": "x"}, format="json")
    # then
    assert_error(r, 404, "TASK_NOT_FOUND")
    before.assert_nothing_written()


def test_a_session_reports_a_task_status(api_client, tenant, project):
    # given: the old CLI's `report progress --task` and `worker init` send this on a task update
    task = api_client.post("/api/tasks", {"projectId": project.id, "title": "Work"}, format="json").json()
    before = Mark(tenant)
    # when
    r = api_client.patch(f"/api/tasks/{task['id']}", {"sessionStatus": "working", "updateSource": "session",
                                                       "sessionId": "sess_1_worker"}, format="json")
    # then: stored and returned, with a timeline entry naming the session; the task's own status unchanged
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["sessionStatus"], body["status"]) == ("working", "pending")
    entry = body["timeline"][-1]
    assert {k: entry[k] for k in ("type", "message", "sessionId")} == {
        "type": "progress", "message": "sess_1_worker reported working", "sessionId": "sess_1_worker"}
    assert api_client.get(f"/api/tasks/{task['id']}").json()["sessionStatus"] == "working"
    before.assert_written(["audit:created", "task:updated"], action="task.update", resource=task["id"])
    assert before.events()[1].data["sessionStatus"] == "working"


def test_an_unknown_session_status_is_refused(api_client, tenant, project):
    # given
    task = api_client.post("/api/tasks", {"projectId": project.id, "title": "Work"}, format="json").json()
    before = Mark(tenant)
    # then
    for body in ({"sessionStatus": "done"}, {"updateSource": "robot"}, {"sessionStatus": 1}):
        assert_error(api_client.patch(f"/api/tasks/{task['id']}", body, format="json"), 400)
    before.assert_nothing_written()


def test_a_task_read_naming_its_current_etag_is_304_until_the_task_changes(api_client, tenant, project):
    # given a client that read the task
    task = make_task(tenant, project)
    first = api_client.get(f"/api/tasks/{task.id}")
    etag = first["ETag"]
    # when it reads again naming that version
    unchanged = api_client.get(f"/api/tasks/{task.id}", HTTP_IF_NONE_MATCH=etag)
    listed = api_client.get(f"/api/tasks/{task.id}", HTTP_IF_NONE_MATCH=f'"0", W/{etag}')
    # then nothing is sent but the version
    assert (unchanged.status_code, unchanged.content, unchanged["ETag"]) == (304, b"", etag)
    assert listed.status_code == 304
    # when the task changes, the same request gets the new task and its new version
    assert api_client.patch(f"/api/tasks/{task.id}", {"title": "T2"}, format="json").status_code == 200
    changed = api_client.get(f"/api/tasks/{task.id}", HTTP_IF_NONE_MATCH=etag)
    new_etag = f'"{first.json()["version"] + 1}"'
    assert (changed.status_code, changed.json()["title"], changed["ETag"]) == (200, "T2", new_etag)



def test_another_tenants_task_is_404_whatever_the_etag(api_client, other_tenant, foreign_project):
    # given a task of another tenant, and its version
    foreign = make_task(other_tenant, foreign_project)
    # when a client of this tenant names it with that version
    r = api_client.get(f"/api/tasks/{foreign.id}", HTTP_IF_NONE_MATCH=f'"{foreign.version}"')
    # then it is not found: no 304 reveals that it exists
    assert_error(r, 404, "TASK_NOT_FOUND")
