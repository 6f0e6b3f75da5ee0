"""Every write of the API runs as one unit with its answer, and a POST sent with an
``Idempotency-Key`` is carried out once: a retry gets the first answer, the same key with
another request is refused (422), and racing retries create one row (PostgreSQL, threads)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction
from rest_framework.test import APIClient

from orchestration.work.models import Project, Session, Subtask, Task
from tests.support.api import assert_error
from tests.support.writes import Mark


@pytest.fixture
def task(tenant, project):
    from tests.factories import make_task

    return make_task(tenant, project, "t")


def creates(project, task):
    return {
        "project": ("/api/projects", {"name": "P"}, Project),
        "task": ("/api/tasks", {"projectId": project.id, "title": "t"}, Task),
        "session": ("/api/sessions", {"projectId": project.id, "taskIds": [task.id]}, Session),
        "spawn": ("/api/sessions/spawn", {"projectId": project.id, "taskIds": [task.id]}, Session),
        "subtask": (f"/api/tasks/{task.id}/subtasks", {"title": "s"}, Subtask),
    }


@pytest.mark.parametrize("what", ["project", "task", "session", "spawn", "subtask"])
def test_a_retried_create_with_its_key_is_carried_out_once(api_client, tenant, project, task, what):
    # given
    path, body, model = creates(project, task)[what]
    first = api_client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=f"k-{what}")
    assert first.status_code == 201, first.content
    rows, before = model.objects.count(), Mark(tenant)
    # when
    retry = api_client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=f"k-{what}")
    # then
    assert (retry.status_code, retry.json()) == (201, first.json())
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.get("ETag") == first.get("ETag")
    assert model.objects.count() == rows
    before.assert_nothing_written()


def test_the_same_key_with_another_request_is_refused(api_client, tenant, project):
    # given
    first = api_client.post("/api/tasks", {"projectId": project.id, "title": "a"}, format="json",
                            HTTP_IDEMPOTENCY_KEY="k1")
    before = Mark(tenant)
    # when: another body, then another path, under the same key
    other_body = api_client.post("/api/tasks", {"projectId": project.id, "title": "b"}, format="json",
                                 HTTP_IDEMPOTENCY_KEY="k1")
    other_path = api_client.post("/api/projects", {"name": "b"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    # then
    assert_error(other_body, 422, "IDEMPOTENCY_KEY_REUSED")
    assert_error(other_path, 422, "IDEMPOTENCY_KEY_REUSED")
    assert list(Task.objects.values_list("title", flat=True)) == ["a"]
    assert first.status_code == 201
    before.assert_nothing_written()


def test_a_refused_request_leaves_its_key_free(api_client, tenant, project):
    # a 404 (no such project) stores nothing under the key; the corrected request may use it
    r = api_client.post("/api/tasks", {"projectId": "proj_nope", "title": "a"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="k2")
    assert_error(r, 404, "PROJECT_NOT_FOUND")
    r = api_client.post("/api/tasks", {"projectId": project.id, "title": "a"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="k2")
    assert r.status_code == 201 and "Idempotent-Replayed" not in r


def test_keys_belong_to_their_tenant(api_client, other_client, project, other_tenant):
    from tests.factories import make_project

    theirs = make_project(other_tenant, "Theirs")
    mine = api_client.post("/api/tasks", {"projectId": project.id, "title": "a"}, format="json",
                           HTTP_IDEMPOTENCY_KEY="shared")
    their = other_client.post("/api/tasks", {"projectId": theirs.id, "title": "a"}, format="json",
                              HTTP_IDEMPOTENCY_KEY="shared")
    assert (mine.status_code, their.status_code) == (201, 201)
    assert mine.json()["id"] != their.json()["id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve"])
def test_a_malformed_key_is_400(api_client, project, key):
    r = api_client.post("/api/tasks", {"projectId": project.id, "title": "a"}, format="json",
                        HTTP_IDEMPOTENCY_KEY=key)
    assert_error(r, 400, "VALIDATION_ERROR")
    assert not Task.objects.exists()


RACERS = 8


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_racing_retries_with_one_key_create_one_task(project, operator_token):
    barrier = threading.Barrier(RACERS)
    answers: list[tuple[int, str]] = []

    def post() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {operator_token}")
        try:
            barrier.wait(timeout=20)
            r = client.post("/api/tasks", {"projectId": project.id, "title": "once"}, format="json",
                            HTTP_IDEMPOTENCY_KEY="race")
            answers.append((r.status_code, r.json()["id"]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(answers) == RACERS
    assert {a for a in answers} == {(201, Task.objects.get().id)}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_the_answer_is_read_before_the_commit(api_client, project, monkeypatch):
    # given: the database connection drops the moment the write commits
    from orchestration.work.services import tasks as task_services

    create = task_services.task_create

    def create_then_drop_on_commit(**kwargs):
        task = create(**kwargs)
        transaction.on_commit(lambda: connection.connection.close())
        return task

    monkeypatch.setattr(task_services, "task_create", create_then_drop_on_commit)
    # when
    r = api_client.post("/api/tasks", {"projectId": project.id, "title": "stored"}, format="json")
    connection.close()
    # then: the client is told what was stored, not a 500 for a task that exists
    assert r.status_code == 201, r.content
    assert Task.objects.get().id == r.json()["id"]
