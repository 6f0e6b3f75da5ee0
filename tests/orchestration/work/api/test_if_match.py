"""Tasks and sessions carry a version (their ETag): a write based on a stale one is refused
with 412, recorded as denied, and changes nothing. Agents update tasks concurrently, so of
many writers based on the same version exactly one wins (PostgreSQL, real threads)."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from orchestration.work.models import Session, Task
from tests.support.api import assert_error
from tests.support.race import race
from tests.support.writes import Mark


def test_task_answers_carry_their_version_as_etag(api_client, project):
    r = api_client.post("/api/tasks", {"projectId": project.id, "title": "t"}, format="json")
    assert (r["ETag"], r.json()["version"]) == ('"1"', 1)
    r = api_client.patch(f"/api/tasks/{r.json()['id']}", {"title": "u"}, format="json", HTTP_IF_MATCH='"1"')
    assert r.status_code == 200, r.content
    assert (r["ETag"], r.json()["version"]) == ('"2"', 2)


@pytest.mark.parametrize("how", ["header", "body"])
def test_a_stale_task_update_is_412_and_changes_nothing(api_client, tenant, task, how):
    # given: someone else changed the task since version 1
    api_client.patch(f"/api/tasks/{task.id}", {"title": "theirs"}, format="json")
    before = Mark(tenant)
    # when
    kwargs = {"HTTP_IF_MATCH": '"1"'} if how == "header" else {}
    body = {"title": "mine", **({"version": 1} if how == "body" else {})}
    r = api_client.patch(f"/api/tasks/{task.id}", body, format="json", **kwargs)
    # then
    answer = assert_error(r, 412, "PRECONDITION_FAILED")
    assert answer["details"]["currentVersion"] == 2
    assert Task.objects.get(id=task.id).title == "theirs"
    before.assert_denied(policy_id="optimistic_concurrency", actor="olivia")


def test_a_stale_task_or_session_delete_is_412(api_client, tenant, project, task, make_session):
    session = make_session(project, [task])
    api_client.patch(f"/api/sessions/{session.id}", {"name": "renamed"}, format="json")
    before = Mark(tenant)
    assert_error(api_client.delete(f"/api/sessions/{session.id}", HTTP_IF_MATCH='"1"'), 412, "PRECONDITION_FAILED")
    assert Session.objects.filter(id=session.id).exists()
    before.assert_denied(policy_id="optimistic_concurrency", actor="olivia")
    version = Task.objects.get(id=task.id).version
    assert_error(api_client.delete(f"/api/tasks/{task.id}", HTTP_IF_MATCH=f'"{version - 1}"'), 412,
                 "PRECONDITION_FAILED")
    assert api_client.delete(f"/api/tasks/{task.id}", HTTP_IF_MATCH=f'"{version}"').status_code == 200


def test_a_stale_session_update_is_412(api_client, tenant, project, task, make_session):
    session = make_session(project, [task])
    assert api_client.patch(f"/api/sessions/{session.id}", {"status": "completed"}, format="json",
                            HTTP_IF_MATCH='"1"').status_code == 200
    before = Mark(tenant)
    r = api_client.patch(f"/api/sessions/{session.id}", {"status": "failed"}, format="json", HTTP_IF_MATCH='"1"')
    assert_error(r, 412, "PRECONDITION_FAILED")
    assert Session.objects.get(id=session.id).status == "completed"
    before.assert_denied(policy_id="optimistic_concurrency", actor="olivia")


def test_a_change_through_a_link_moves_the_task_version(api_client, project, task, make_session):
    # a session linking the task changes the task's sessionIds: its ETag must move too
    session = make_session(project)
    assert api_client.post(f"/api/sessions/{session.id}/tasks/{task.id}").status_code == 200
    assert Task.objects.get(id=task.id).version == 2
    assert_error(api_client.patch(f"/api/tasks/{task.id}", {"title": "x"}, format="json", HTTP_IF_MATCH='"1"'),
                 412, "PRECONDITION_FAILED")


WRITERS = 12


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["task", "session"])
def test_of_concurrent_writers_on_one_version_exactly_one_wins(tenant, project, operator_token, kind):
    # given
    from orchestration.work.services.sessions import session_create
    from tests.factories import SYSTEM, make_task

    task = make_task(tenant, project, "shared")
    target = (f"/api/tasks/{task.id}" if kind == "task"
              else f"/api/sessions/{session_create(tenant=tenant, actor=SYSTEM, project=project, task_ids=[]).id}")

    def write(n: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {operator_token}")
        r = client.patch(target, {"name" if kind == "session" else "title": f"writer {n}"}, format="json",
                         HTTP_IF_MATCH='"1"')
        return int(r.status_code)

    # when
    results = race(write, WRITERS)
    # then
    assert [outcome for outcome, _ in results] == ["ok"] * WRITERS, results
    assert sorted(code for _, code in results) == [200] + [412] * (WRITERS - 1)
    model = Task if kind == "task" else Session
    assert model.objects.get(id=target.rsplit("/", 1)[1]).version == 2
