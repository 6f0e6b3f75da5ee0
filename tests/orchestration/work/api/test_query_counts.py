"""Hot endpoints run a fixed number of queries, whatever the number of rows (no N+1)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from orchestration.work.services.tasks import subtask_create, task_timeline_add
from tests.factories import SYSTEM, make_task


def _tasks(tenant, project, session_factory, count):
    tasks = [make_task(tenant, project, f"t{i}") for i in range(count)]
    for t in tasks:
        subtask_create(tenant=tenant, task_id=t.id, actor=SYSTEM, title="s")
        task_timeline_add(tenant=tenant, task_id=t.id, actor=SYSTEM, type="update", message="m")
    session_factory(project, tasks)
    return tasks


def _count(client, path):
    client.get(path)  # warm up: the token's last-use stamp is written at most once a minute
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(path)
    assert r.status_code == 200, r.content
    return len(ctx.captured_queries), r.json()


def test_task_detail_query_count(api_client, tenant, project, make_session, django_assert_num_queries):
    # given
    [task] = _tasks(tenant, project, make_session, 1)
    api_client.get(f"/api/tasks/{task.id}")
    # when / then: the token with its membership; the task with its timeline, subtasks and session links
    with django_assert_num_queries(2):
        r = api_client.get(f"/api/tasks/{task.id}")
    assert r.status_code == 200


def test_task_list_query_count_does_not_grow_with_rows(api_client, tenant, project, other_project, make_session):
    # given
    _tasks(tenant, project, make_session, 5)
    _tasks(tenant, other_project, make_session, 50)
    # when
    few, few_rows = _count(api_client, f"/api/tasks?projectId={project.id}")
    many, many_rows = _count(api_client, f"/api/tasks?projectId={other_project.id}")
    # then
    assert (len(few_rows), len(many_rows)) == (5, 50)
    assert all(len(t["subtasks"]) == 1 and len(t["timeline"]) == 3 and len(t["sessionIds"]) == 1
               for t in many_rows)
    assert few == many == 2  # the token with its membership; the page with timelines, subtasks, session links


def test_session_list_query_count_does_not_grow_with_rows(api_client, tenant, project, make_session):
    # given
    task = make_task(tenant, project)
    for _ in range(3):
        make_session(project, [task])
    few, _ = _count(api_client, "/api/sessions")
    for _ in range(30):
        make_session(project, [task])
    # when
    many, rows = _count(api_client, "/api/sessions")
    # then
    assert len(rows) == 33
    assert few == many == 5  # the token with its membership, the page, events, timelines, task links


def test_session_detail_and_project_list_query_counts(api_client, tenant, project, make_session,
                                                      django_assert_num_queries):
    # given
    session = make_session(project, [make_task(tenant, project)])
    api_client.get("/api/projects")
    # then
    with django_assert_num_queries(5):
        assert api_client.get(f"/api/sessions/{session.id}").status_code == 200
    with django_assert_num_queries(2):
        assert api_client.get("/api/projects").status_code == 200
