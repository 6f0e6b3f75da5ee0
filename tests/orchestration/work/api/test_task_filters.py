from __future__ import annotations

import pytest

from tests.factories import SYSTEM, make_task
from tests.support.api import assert_error


@pytest.fixture
def tree(tenant, project, other_project, make_session):
    """project: root(in_progress) → child(pending) → grandchild(completed); other_project: lone(pending)."""
    from orchestration.work.services.tasks import task_update

    root = make_task(tenant, project, "root")
    child = make_task(tenant, project, "child", parent_id=root.id)
    grandchild = make_task(tenant, project, "grandchild", parent_id=child.id)
    lone = make_task(tenant, other_project, "lone")
    task_update(tenant=tenant, task_id=root.id, actor=SYSTEM, changes={"status": "in_progress"})
    task_update(tenant=tenant, task_id=grandchild.id, actor=SYSTEM, changes={"status": "completed"})
    session = make_session(project, [root, grandchild])
    return {"root": root.id, "child": child.id, "grandchild": grandchild.id, "lone": lone.id, "session": session.id}


def ids(response):
    assert response.status_code == 200, response.content
    return [t["id"] for t in response.json()]


def test_list_all_tasks_of_the_tenant(api_client, tree, other_tenant, foreign_project):
    # given
    make_task(other_tenant, foreign_project, "theirs")
    # when / then
    assert ids(api_client.get("/api/tasks")) == [tree["root"], tree["child"], tree["grandchild"], tree["lone"]]


def test_filter_by_project(api_client, tree, project, other_project):
    assert ids(api_client.get(f"/api/tasks?projectId={project.id}")) == [tree["root"], tree["child"],
                                                                         tree["grandchild"]]
    assert ids(api_client.get(f"/api/tasks?projectId={other_project.id}")) == [tree["lone"]]
    assert ids(api_client.get("/api/tasks?projectId=proj_nope")) == []


def test_filter_by_status(api_client, tree):
    assert ids(api_client.get("/api/tasks?status=in_progress")) == [tree["root"]]
    assert ids(api_client.get("/api/tasks?status=completed")) == [tree["grandchild"]]
    assert ids(api_client.get("/api/tasks?status=pending")) == [tree["child"], tree["lone"]]
    assert ids(api_client.get("/api/tasks?status=blocked")) == []


def test_filter_status_todo_is_pending(api_client, tree):
    assert ids(api_client.get("/api/tasks?status=todo")) == [tree["child"], tree["lone"]]


def test_filter_by_unknown_status_is_400(api_client, tree):
    # when
    r = api_client.get("/api/tasks?status=banana")
    # then
    body = assert_error(r, 400, "VALIDATION_ERROR")
    assert body["details"] == {"status": "banana"}


def test_filter_by_parent(api_client, tree):
    assert ids(api_client.get(f"/api/tasks?parentId={tree['root']}")) == [tree["child"]]
    assert ids(api_client.get(f"/api/tasks?parentId={tree['child']}")) == [tree["grandchild"]]
    assert ids(api_client.get(f"/api/tasks?parentId={tree['grandchild']}")) == []


def test_filter_parent_null_lists_roots(api_client, tree):
    assert ids(api_client.get("/api/tasks?parentId=null")) == [tree["root"], tree["lone"]]


def test_filter_by_session(api_client, tree):
    assert ids(api_client.get(f"/api/tasks?sessionId={tree['session']}")) == [tree["root"], tree["grandchild"]]
    assert ids(api_client.get("/api/tasks?sessionId=sess_nope")) == []


def test_filters_combine(api_client, tree, project):
    assert ids(api_client.get(f"/api/tasks?projectId={project.id}&parentId=null&status=in_progress")) == [
        tree["root"]]
    assert ids(api_client.get(f"/api/tasks?sessionId={tree['session']}&status=completed")) == [tree["grandchild"]]
    assert ids(api_client.get(f"/api/tasks?sessionId={tree['session']}&parentId=null")) == [tree["root"]]
