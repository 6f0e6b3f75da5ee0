"""The session queue (DESIGN §4.1): the old server's queue routes, which the old CLI's
``maestro queue status|top|list|push|start|complete|fail|skip`` call."""

from __future__ import annotations

from typing import Any

import pytest

from orchestration.work.models import SessionQueueItem
from tests.factories import SYSTEM, make_task
from tests.support.api import assert_error
from tests.support.race import race
from tests.support.writes import Mark

STATS_ZERO = {"total": 0, "queued": 0, "processing": 0, "completed": 0, "failed": 0, "skipped": 0}


def _stats(**kw: int) -> dict[str, int]:
    return {**STATS_ZERO, **kw}


@pytest.fixture
def tasks(tenant, project):
    return [make_task(tenant, project, f"T{n}") for n in range(3)]


@pytest.fixture
def queued(api_client, project, tasks) -> str:
    """A queue-strategy session spawned for the three tasks."""
    r = api_client.post("/api/sessions/spawn", {"projectId": project.id, "taskIds": [t.id for t in tasks],
                                                "strategy": "queue"}, format="json")
    assert r.status_code == 201, r.content
    return r.json()["sessionId"]


def _q(api_client, session_id: str, what: str = "", body: dict[str, Any] | None = None, get: bool = False) -> Any:
    path = f"/api/sessions/{session_id}/queue" + (f"/{what}" if what else "")
    return api_client.get(path) if get else api_client.post(path, body or {}, format="json")


def test_a_queue_spawn_queues_its_tasks_in_order(api_client, queued, tasks):
    # when
    state = _q(api_client, queued, get=True)
    listed = _q(api_client, queued, "items", get=True)
    top = _q(api_client, queued, "top", get=True)

    # then
    assert state.status_code == 200, state.content
    queue = state.json()["queue"]
    items = queue["items"]
    assert [(i["taskId"], i["status"]) for i in items] == [(t.id, "queued") for t in tasks]
    assert all(set(i) == {"taskId", "status", "addedAt"} and isinstance(i["addedAt"], int) for i in items)
    assert (queue["sessionId"], queue["strategy"], queue["currentIndex"]) == (queued, "queue", -1)
    assert state.json()["stats"] == _stats(total=3, queued=3)
    assert listed.json() == {"items": items, "stats": _stats(total=3, queued=3)}
    assert top.json() == {"hasMore": True, "item": items[0]}


def test_start_complete_fail_skip_walk_the_queue(api_client, tenant, queued, tasks):
    t0, t1, t2 = (t.id for t in tasks)

    # start: the first item is processed, its task reported working by the session
    started = _q(api_client, queued, "start").json()
    assert started["success"] is True and started["message"] == f"Started processing task {t0}"
    assert (started["item"]["taskId"], started["item"]["status"]) == (t0, "processing")
    assert isinstance(started["item"]["startedAt"], int)
    task0 = api_client.get(f"/api/tasks/{t0}").json()
    assert task0["sessionStatus"] == "working"
    assert (task0["timeline"][-1]["sessionId"], task0["timeline"][-1]["message"]) == (
        queued, f"{queued} reported working")
    assert _q(api_client, queued, get=True).json()["queue"]["currentIndex"] == 0
    # one at a time
    assert_error(_q(api_client, queued, "start"), 400, message=f"Already processing task {t0}. "
                                                               "Complete or fail it first.")

    # complete: the task reported completed, the next one named
    done = _q(api_client, queued, "complete").json()
    assert (done["success"], done["completedItem"]["taskId"], done["completedItem"]["status"]) == (
        True, t0, "completed")
    assert (done["nextItem"]["taskId"], done["hasMore"], done["message"]) == (t1, True, f"Completed {t0}. Next: {t1}")
    assert api_client.get(f"/api/tasks/{t0}").json()["sessionStatus"] == "completed"

    # fail with a reason
    _q(api_client, queued, "start")
    failed = _q(api_client, queued, "fail", {"reason": "tests red"}).json()
    assert (failed["failedItem"]["taskId"], failed["failedItem"]["status"], failed["failedItem"]["failReason"]) == (
        t1, "failed", "tests red")
    assert failed["message"] == f"Failed {t1}. Next: {t2}"
    assert api_client.get(f"/api/tasks/{t1}").json()["sessionStatus"] == "failed"

    # skip the next queued one: no task is reported
    skipped = _q(api_client, queued, "skip").json()
    assert (skipped["skippedItem"]["taskId"], skipped["skippedItem"]["status"], skipped["nextItem"],
            skipped["hasMore"], skipped["message"]) == (t2, "skipped", None, False, f"Skipped {t2}. Queue is empty.")
    assert api_client.get(f"/api/tasks/{t2}").json()["sessionStatus"] is None

    # empty
    assert _q(api_client, queued, "top", get=True).json() == {
        "hasMore": False, "item": None, "message": "Queue is empty - all tasks processed"}
    before = Mark(tenant)
    assert _q(api_client, queued, "start").json() == {
        "success": True, "item": None, "empty": True, "message": "Queue is empty — no items to process"}
    assert _q(api_client, queued, get=True).json()["stats"] == _stats(total=3, completed=1, failed=1, skipped=1)
    before.assert_nothing_written()


def test_skip_while_processing_skips_the_current_item(api_client, queued, tasks):
    # given
    _q(api_client, queued, "start")
    # when
    skipped = _q(api_client, queued, "skip").json()
    # then
    assert (skipped["skippedItem"]["taskId"], skipped["nextItem"]["taskId"]) == (tasks[0].id, tasks[1].id)
    assert _q(api_client, queued, get=True).json()["queue"]["currentIndex"] == -1


def test_push_appends_a_task(api_client, tenant, project, queued):
    # given
    extra = make_task(tenant, project, "extra")
    before = Mark(tenant)
    # when
    r = _q(api_client, queued, "push", {"taskId": extra.id})
    # then
    assert r.status_code == 200, r.content
    assert (r.json()["success"], r.json()["item"]["taskId"], r.json()["item"]["status"]) == (True, extra.id, "queued")
    assert [i["taskId"] for i in _q(api_client, queued, "items", get=True).json()["items"]][-1] == extra.id
    assert before.audit_summary() == [("session.queue_push", queued, "allowed", "")]


def test_queue_errors_write_nothing(api_client, tenant, project, queued, tasks, make_session):
    # given
    plain = make_session(project, tasks[:1])
    before = Mark(tenant)
    # then
    for what, get in [("", True), ("items", True), ("top", True), ("start", False), ("skip", False)]:
        assert_error(_q(api_client, plain.id, what, get=get), 400,
                     message=f"Session {plain.id} does not use queue strategy")
        assert_error(_q(api_client, "sess_nope", what, get=get), 404, "SESSION_NOT_FOUND")
    for what in ("complete", "fail"):
        assert_error(_q(api_client, queued, what), 400, message='No item currently being processed. Run "start" first.')
    assert_error(_q(api_client, queued, "push", {}), 400, message="taskId is required")
    assert_error(_q(api_client, queued, "push", {"taskId": "task_nope"}), 404, "TASK_NOT_FOUND")
    assert_error(_q(api_client, queued, "push", {"taskId": tasks[0].id}), 400,
                 message=f"Task {tasks[0].id} already in queue")
    assert_error(_q(api_client, queued, "fail", {"reason": 5}), 400)
    before.assert_nothing_written()


def test_nothing_left_to_skip(api_client, queued):
    # given
    for _ in range(3):
        _q(api_client, queued, "skip")
    # then
    assert_error(_q(api_client, queued, "skip"), 400, message="No items left in queue to skip")


def test_viewer_cannot_work_the_queue(viewer_client, tenant, queued):
    # given
    before = Mark(tenant)
    # then
    assert viewer_client.get(f"/api/sessions/{queued}/queue").status_code == 200
    assert_error(_q(viewer_client, queued, "start"), 403, "FORBIDDEN")
    before.assert_denied()


@pytest.mark.django_db(transaction=True)
def test_racing_starts_process_one_item_once(tenant, project):
    # given: a queue of two tasks and four workers of the session starting at once
    from orchestration.work.services import queue as services
    from orchestration.work.services.sessions import session_spawn

    tasks = [make_task(tenant, project, f"T{n}") for n in range(2)]
    session, _ = session_spawn(tenant=tenant, actor=SYSTEM, project=project, task_ids=[t.id for t in tasks],
                               strategy="queue")

    # when
    results = race(lambda i: services.queue_start(tenant=tenant, session_id=session.id, actor=SYSTEM), 4)

    # then: one started the first task, the others were told it is being processed
    started = [r for kind, r in results if kind == "ok"]
    refused = [r for kind, r in results if kind == "error"]
    assert [item.task_id for item in started] == [tasks[0].id]
    assert [str(e) for e in refused] == [f"Already processing task {tasks[0].id}. Complete or fail it first."] * 3
    assert list(SessionQueueItem.objects.filter(session=session).values_list("status", flat=True)) == [
        "processing", "queued"]


def test_a_registered_queue_session_queues_its_tasks(api_client, project, tasks):
    # given: the old CLI's `session register` of a queue-strategy session it was not spawned as
    r = api_client.post("/api/sessions", {"id": "sess_cli_1", "projectId": project.id,
                                          "taskIds": [tasks[1].id, tasks[0].id], "strategy": "queue",
                                          "status": "running", "metadata": {"role": "worker"}}, format="json")
    assert r.status_code == 201, r.content
    # then
    items = _q(api_client, "sess_cli_1", "items", get=True).json()["items"]
    assert [i["taskId"] for i in items] == [tasks[1].id, tasks[0].id]
