from __future__ import annotations

from orchestration.work.models import Subtask, Task
from tests.support.api import assert_error, is_id
from tests.support.writes import Mark

SUBTASK_KEYS = {"id", "taskId", "title", "description", "completed", "order", "createdAt", "updatedAt",
                "completedAt"}


def test_create_subtask(api_client, tenant, task):
    # given
    before = Mark(tenant)
    # when
    r = api_client.post(f"/api/tasks/{task.id}/subtasks", {"title": "step 1"}, format="json")
    # then
    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) == SUBTASK_KEYS
    assert is_id("sub", body["id"])
    assert {k: body[k] for k in ("taskId", "title", "description", "completed", "order", "completedAt")} == {
        "taskId": task.id, "title": "step 1", "description": "", "completed": False, "order": 0,
        "completedAt": None}
    assert isinstance(body["createdAt"], int)
    task_now = api_client.get(f"/api/tasks/{task.id}").json()
    assert task_now["subtasks"] == [body]
    assert task_now["updatedAt"] == body["createdAt"]
    before.assert_written(["audit:created", "subtask:created", "task:updated"], action="subtask.create",
                          resource=body["id"])
    events = before.events()
    assert events[1].data == body
    assert events[2].data == task_now
    assert {e.project_id for e in events[1:]} == {task.project_id}


def test_subtasks_are_ordered_and_order_defaults_to_position(api_client, task):
    # when
    first = api_client.post(f"/api/tasks/{task.id}/subtasks", {"title": "a"}, format="json").json()
    second = api_client.post(f"/api/tasks/{task.id}/subtasks", {"title": "b"}, format="json").json()
    front = api_client.post(f"/api/tasks/{task.id}/subtasks",
                            {"title": "c", "description": "d", "completed": True, "order": 0}, format="json").json()
    # then
    assert (first["order"], second["order"], front["order"]) == (0, 1, 0)
    assert front["completed"] is True and isinstance(front["completedAt"], int)
    listed = api_client.get(f"/api/tasks/{task.id}").json()["subtasks"]
    assert [s["title"] for s in listed] == ["a", "c", "b"]


def test_create_subtask_bad_input(api_client, tenant, task):
    # given
    before = Mark(tenant)
    # when
    responses = [api_client.post(f"/api/tasks/{task.id}/subtasks", body, format="json") for body in (
        {}, {"title": ""}, {"title": 7}, {"title": "x", "completed": "yes"}, {"title": "x", "completed": 1},
        {"title": "x", "order": "1"}, {"title": "x", "order": -1}, {"title": "x", "order": True},
        {"title": "x", "description": ["d"]},
    )]
    # then
    for r in responses:
        assert_error(r, 400, "VALIDATION_ERROR")
    assert responses[0].json()["message"] == "title is required"
    before.assert_nothing_written()


def test_create_subtask_on_missing_task_is_404(api_client, tenant):
    # given
    before = Mark(tenant)
    # when
    r = api_client.post("/api/tasks/task_missing/subtasks", {"title": "x"}, format="json")
    # then
    assert_error(r, 404, "TASK_NOT_FOUND")
    before.assert_nothing_written()


def test_update_subtask(api_client, tenant, task):
    # given
    sub = api_client.post(f"/api/tasks/{task.id}/subtasks", {"title": "a", "description": "keep"},
                          format="json").json()
    before = Mark(tenant)
    # when
    r = api_client.patch(f"/api/tasks/{task.id}/subtasks/{sub['id']}", {"completed": True, "title": "A"},
                         format="json")
    # then
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["title"], body["description"], body["completed"]) == ("A", "keep", True)
    assert isinstance(body["completedAt"], int)
    row = Subtask.objects.get(id=sub["id"])
    assert (row.title, row.completed) == ("A", True)
    task_now = api_client.get(f"/api/tasks/{task.id}").json()
    assert task_now["subtasks"] == [body]
    before.assert_written(["audit:created", "subtask:updated", "task:updated"], action="subtask.update",
                          resource=sub["id"])
    assert before.events()[1].data == body
    assert before.events()[2].data == task_now


def test_uncompleting_a_subtask_clears_completed_at(api_client, task):
    # given
    sub = api_client.post(f"/api/tasks/{task.id}/subtasks", {"title": "a", "completed": True}, format="json").json()
    # when
    r = api_client.patch(f"/api/tasks/{task.id}/subtasks/{sub['id']}", {"completed": False}, format="json")
    # then
    assert (r.json()["completed"], r.json()["completedAt"]) == (False, None)


def test_update_subtask_bad_input_and_missing(api_client, tenant, project, task):
    # given
    from tests.factories import make_task

    sub = api_client.post(f"/api/tasks/{task.id}/subtasks", {"title": "a"}, format="json").json()
    other = make_task(tenant, project, "other")
    before = Mark(tenant)
    # when
    bad = [api_client.patch(f"/api/tasks/{task.id}/subtasks/{sub['id']}", body, format="json")
           for body in ({"completed": "true"}, {"title": ""}, {"order": 1.5}, [1])]
    missing = api_client.patch(f"/api/tasks/{task.id}/subtasks/sub_nope", {"title": "x"}, format="json")
    wrong_task = api_client.patch(f"/api/tasks/{other.id}/subtasks/{sub['id']}", {"title": "x"}, format="json")
    missing_task = api_client.patch(f"/api/tasks/task_nope/subtasks/{sub['id']}", {"title": "x"}, format="json")
    # then
    for r in bad:
        assert_error(r, 400, "VALIDATION_ERROR")
    assert_error(missing, 404, "SUBTASK_NOT_FOUND", "Subtask not found")
    assert_error(wrong_task, 404, "SUBTASK_NOT_FOUND")
    assert_error(missing_task, 404, "TASK_NOT_FOUND")
    before.assert_nothing_written()


def test_delete_subtask(api_client, tenant, task):
    # given
    sub = api_client.post(f"/api/tasks/{task.id}/subtasks", {"title": "a"}, format="json").json()
    keep = api_client.post(f"/api/tasks/{task.id}/subtasks", {"title": "b"}, format="json").json()
    before = Mark(tenant)
    # when
    r = api_client.delete(f"/api/tasks/{task.id}/subtasks/{sub['id']}")
    # then
    assert r.status_code == 200, r.content
    assert r.json() == {"success": True, "id": sub["id"]}
    assert list(Subtask.objects.values_list("id", flat=True)) == [keep["id"]]
    task_now = api_client.get(f"/api/tasks/{task.id}").json()
    assert [s["id"] for s in task_now["subtasks"]] == [keep["id"]]
    before.assert_written(["audit:created", "subtask:deleted", "task:updated"], action="subtask.delete",
                          resource=sub["id"])
    assert before.events()[1].data == {"id": sub["id"]}
    assert before.events()[2].data == task_now


def test_delete_missing_subtask_is_404(api_client, tenant, task):
    # given
    before = Mark(tenant)
    # when
    r = api_client.delete(f"/api/tasks/{task.id}/subtasks/sub_nope")
    # then
    assert_error(r, 404, "SUBTASK_NOT_FOUND")
    before.assert_nothing_written()


def test_deleting_the_task_deletes_its_subtasks(api_client, task):
    # given
    api_client.post(f"/api/tasks/{task.id}/subtasks", {"title": "a"}, format="json")
    # when
    api_client.delete(f"/api/tasks/{task.id}")
    # then
    assert Subtask.objects.count() == 0
    assert not Task.objects.filter(id=task.id).exists()
