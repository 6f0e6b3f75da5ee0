"""The one error envelope on every API path, and bad input refused with nothing stored."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from orchestration.work.models import Project, Task
from tests.factories import make_project, make_task
from tests.support.api import assert_error
from tests.support.writes import Mark


@pytest.fixture
def task(tenant, project):
    return make_task(tenant, project, "T")


def test_unknown_api_path_is_a_json_404(api_client, anon_client):
    # when
    responses = [api_client.get("/api/nope"), api_client.post("/api/nope/deeper", {}, format="json"),
                 anon_client.get("/api/nope"), api_client.get("/api/projects/"), api_client.get("/api")]
    # then
    for r in responses:
        assert_error(r, 404, "NOT_FOUND")
        assert b"<html" not in r.content.lower()
    assert responses[0].json()["details"] == {"path": "/api/nope"}


def test_unsupported_method_is_a_json_405(api_client, task):
    # when
    responses = [api_client.put("/api/tasks", {}, format="json"), api_client.delete("/api/projects"),
                 api_client.get("/api/sessions/spawn"), api_client.get(f"/api/tasks/{task.id}/timeline")]
    # then
    for r in responses:
        assert_error(r, 405, "METHOD_NOT_ALLOWED")


def test_malformed_json_is_400_and_stores_nothing(api_client, tenant, task):
    # given
    before = Mark(tenant)
    # when
    responses = [
        api_client.generic("POST", "/api/projects", '{"name": "x"', content_type="application/json"),
        api_client.generic("POST", "/api/tasks", "{'projectId': 1}", content_type="application/json"),
        api_client.generic("PATCH", f"/api/tasks/{task.id}", '{"title": NaN}', content_type="application/json"),
        api_client.generic("POST", "/api/sessions", "not json at all", content_type="application/json"),
    ]
    # then
    for r in responses:
        body = assert_error(r, 400, "VALIDATION_ERROR")
        assert body["message"].startswith("Malformed JSON")
    before.assert_nothing_written()


def test_non_json_content_type_is_400(api_client, tenant):
    # given
    before = Mark(tenant)
    # when
    r = api_client.generic("POST", "/api/projects", "name=x", content_type="application/x-www-form-urlencoded")
    # then
    assert_error(r, 400, "VALIDATION_ERROR")
    before.assert_nothing_written()


@pytest.mark.parametrize("body", [[{"name": "x"}], ["x"], "x", 5, None, True])
def test_non_object_body_is_400(api_client, tenant, task, body):
    # given
    before = Mark(tenant)
    raw = json.dumps(body)
    # when
    responses = [api_client.generic(method, path, raw, content_type="application/json") for method, path in (
        ("POST", "/api/projects"), ("POST", "/api/tasks"), ("PATCH", f"/api/tasks/{task.id}"),
        ("POST", f"/api/tasks/{task.id}/subtasks"), ("POST", "/api/sessions"), ("POST", "/api/sessions/spawn"),
    )]
    # then
    for r in responses:
        assert_error(r, 400, "VALIDATION_ERROR", "Request body must be a JSON object")
    before.assert_nothing_written()


def test_oversized_body_is_400_and_stores_nothing(api_client, tenant):
    # given
    before = Mark(tenant)
    big = json.dumps({"name": "x", "description": "a" * (10 * 1024 * 1024)})
    # when
    r = api_client.generic("POST", "/api/projects", big, content_type="application/json")
    # then
    body = assert_error(r, 400, "VALIDATION_ERROR", "Request body too large")
    assert body["details"]["maxBytes"] == 1024 * 1024
    assert "X-Request-ID" in r
    before.assert_nothing_written()


@override_settings(MAESTRO_MAX_BODY_BYTES=1000, DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_body_just_over_the_limit_is_refused_and_just_under_is_not(api_client, tenant):
    # given
    def body(extra):
        return json.dumps({"name": "n", "description": "d" * extra})

    fits = body(1000 - len(body(0)))
    too_big = body(1001 - len(body(0)))
    # when
    ok = api_client.generic("POST", "/api/projects", fits, content_type="application/json")
    refused = api_client.generic("POST", "/api/projects", too_big, content_type="application/json")
    # then
    assert (len(fits), len(too_big)) == (1000, 1001)
    assert ok.status_code == 201, ok.content
    assert_error(refused, 400, "VALIDATION_ERROR", "Request body too large")


def test_wrong_types_are_400_and_store_nothing(api_client, tenant, project, task):
    # given
    before = Mark(tenant)
    attempts = [
        ("post", "/api/projects", {"name": 5}),
        ("post", "/api/projects", {"name": ["x"]}),
        ("post", "/api/projects", {"name": "x", "workingDir": 1}),
        ("post", "/api/projects", {"name": "x", "description": {"a": 1}}),
        ("post", "/api/tasks", {"projectId": project.id, "title": 5}),
        ("post", "/api/tasks", {"projectId": 5, "title": "x"}),
        ("post", "/api/tasks", {"projectId": project.id, "title": "x", "skillIds": {"a": 1}}),
        ("post", "/api/tasks", {"projectId": project.id, "title": "x", "skillIds": "abc"}),
        ("post", "/api/tasks", {"projectId": project.id, "title": "x", "skillIds": [1, 2]}),
        ("post", "/api/tasks", {"projectId": project.id, "title": "x", "parentId": 3}),
        ("post", "/api/tasks", {"projectId": project.id, "title": "x", "priority": 1}),
        ("patch", f"/api/tasks/{task.id}", {"title": 5}),
        ("patch", f"/api/tasks/{task.id}", {"title": None}),
        ("patch", f"/api/tasks/{task.id}", {"status": ["pending"]}),
        ("patch", f"/api/tasks/{task.id}", {"agentIds": "a"}),
        ("patch", f"/api/tasks/{task.id}", {"dependencies": [{"id": "x"}]}),
        ("patch", f"/api/tasks/{task.id}", {"timeline": {"message": "x"}}),
        ("patch", f"/api/tasks/{task.id}", {"timeline": ["x"]}),
        ("post", f"/api/tasks/{task.id}/subtasks", {"title": "x", "completed": "false"}),
        ("post", "/api/sessions", {"projectId": project.id, "taskIds": [5]}),
        ("post", "/api/sessions", {"projectId": project.id, "taskId": 5}),
        ("post", "/api/sessions", {"projectId": project.id, "taskIds": [], "env": ["A"]}),
    ]
    # when
    responses = [getattr(api_client, method)(path, body, format="json") for method, path, body in attempts]
    # then
    for (_, path, body), r in zip(attempts, responses, strict=True):
        assert r.status_code == 400, (path, body, r.content)
        assert_error(r, 400, "VALIDATION_ERROR")
    before.assert_nothing_written()
    assert Task.objects.get(id=task.id).title == "T"


def test_oversized_fields_are_400(api_client, tenant, project):
    # given
    before = Mark(tenant)
    # when
    long_name = api_client.post("/api/projects", {"name": "x" * 501}, format="json")
    long_title = api_client.post("/api/tasks", {"projectId": project.id, "title": "x" * 1001}, format="json")
    many_skills = api_client.post("/api/tasks", {"projectId": project.id, "title": "x", "skillIds": ["s"] * 1001},
                                  format="json")
    # then
    for r in (long_name, long_title, many_skills):
        assert_error(r, 400, "VALIDATION_ERROR")
    before.assert_nothing_written()


def test_unknown_fields_are_refused_with_the_field_named(api_client, tenant):
    # given
    before = Mark(tenant)
    # when
    r = api_client.post("/api/projects", {"name": "x", "tenant": 2, "colour": "red"}, format="json")
    # then
    body = assert_error(r, 400, "VALIDATION_ERROR")
    assert body["message"] == "colour: Unknown field."
    assert body["details"]["fields"] == {"colour": ["Unknown field."], "tenant": ["Unknown field."]}
    assert not Project.objects.filter(name="x").exists()
    before.assert_nothing_written()


def test_server_owned_values_old_clients_echo_are_accepted_and_not_used(api_client):
    # when: the agents UI re-creates a local project with its own id, timestamps and version
    r = api_client.post("/api/projects", {"name": "x", "id": "proj_forced", "version": 9, "createdAt": 1,
                                          "updatedAt": 2}, format="json")
    # then
    assert r.status_code == 201, r.content
    assert r.json()["id"] != "proj_forced" and r.json()["version"] == 1 and r.json()["createdAt"] > 2
    assert not Project.objects.filter(id="proj_forced").exists()


def test_other_tenants_ids_are_404_and_never_leak(api_client, tenant, other_tenant):
    # given: a full set of the other tenant's rows
    from orchestration.work.services.sessions import session_create
    from orchestration.work.services.tasks import subtask_create
    from tests.factories import SYSTEM

    theirs = make_project(other_tenant, "Theirs")
    their_task = make_task(other_tenant, theirs, "Theirs")
    their_sub = subtask_create(tenant=other_tenant, task_id=their_task.id, actor=SYSTEM, title="s")
    their_session = session_create(tenant=other_tenant, actor=SYSTEM, project=theirs, task_ids=[their_task.id])
    before = Mark(tenant)
    their_before = Mark(other_tenant)
    # when
    attempts = [
        ("get", f"/api/projects/{theirs.id}", None, "PROJECT_NOT_FOUND"),
        ("patch", f"/api/projects/{theirs.id}", {"name": "x"}, "PROJECT_NOT_FOUND"),
        ("delete", f"/api/projects/{theirs.id}", None, "PROJECT_NOT_FOUND"),
        ("get", f"/api/tasks/{their_task.id}", None, "TASK_NOT_FOUND"),
        ("patch", f"/api/tasks/{their_task.id}", {"status": "completed"}, "TASK_NOT_FOUND"),
        ("delete", f"/api/tasks/{their_task.id}", None, "TASK_NOT_FOUND"),
        ("get", f"/api/tasks/{their_task.id}/children", None, "TASK_NOT_FOUND"),
        ("post", f"/api/tasks/{their_task.id}/timeline", {"message": "x"}, "TASK_NOT_FOUND"),
        ("post", f"/api/tasks/{their_task.id}/subtasks", {"title": "x"}, "TASK_NOT_FOUND"),
        ("patch", f"/api/tasks/{their_task.id}/subtasks/{their_sub.id}", {"title": "x"}, "TASK_NOT_FOUND"),
        ("delete", f"/api/tasks/{their_task.id}/subtasks/{their_sub.id}", None, "TASK_NOT_FOUND"),
        ("post", "/api/tasks", {"projectId": theirs.id, "title": "x"}, "PROJECT_NOT_FOUND"),
        ("get", f"/api/sessions/{their_session.id}", None, "SESSION_NOT_FOUND"),
        ("patch", f"/api/sessions/{their_session.id}", {"name": "x"}, "SESSION_NOT_FOUND"),
        ("delete", f"/api/sessions/{their_session.id}", None, "SESSION_NOT_FOUND"),
        ("post", f"/api/sessions/{their_session.id}/events", {"type": "x"}, "SESSION_NOT_FOUND"),
        ("post", f"/api/sessions/{their_session.id}/timeline", {"message": "x"}, "SESSION_NOT_FOUND"),
        ("delete", f"/api/sessions/{their_session.id}/tasks/{their_task.id}", None, "SESSION_NOT_FOUND"),
        ("post", "/api/sessions", {"projectId": theirs.id, "taskIds": []}, "PROJECT_NOT_FOUND"),
    ]
    responses = [getattr(api_client, method)(path, body, format="json") for method, path, body, _ in attempts]
    # then
    for (_, _, _, code), r in zip(attempts, responses, strict=True):
        body = assert_error(r, 404, code)
        assert "Theirs" not in json.dumps(body)
    assert api_client.get("/api/projects").json() == []
    assert api_client.get("/api/tasks").json() == []
    assert api_client.get(f"/api/tasks?projectId={theirs.id}").json() == []
    assert api_client.get(f"/api/tasks?sessionId={their_session.id}").json() == []
    assert api_client.get("/api/sessions").json() == []
    assert api_client.get(f"/api/sessions?taskId={their_task.id}").json() == []
    before.assert_nothing_written()
    their_before.assert_nothing_written()


@pytest.mark.parametrize("lean", [True, False])
def test_error_responses_are_never_html_even_for_a_crash(api_client, monkeypatch, project, settings, lean):
    # given: a bug deep in a selector, met on the lean read path (maestro.auth.reads) or DRF's
    from orchestration.work.api import projects as views

    def boom(**kwargs):
        raise RuntimeError("secret internals")

    settings.MAESTRO_LEAN_READS = lean
    monkeypatch.setattr(views, "project_get", boom)
    monkeypatch.setattr(views.ProjectDetailView, "read_one", staticmethod(boom))
    # when
    r = api_client.get(f"/api/projects/{project.id}")
    # then
    body = assert_error(r, 500, "INTERNAL_ERROR", "Internal server error")
    assert "secret" not in r.content.decode()
    assert body["details"] == {}


def test_a_model_validation_error_is_a_400_not_a_500(api_client, monkeypatch, tenant):
    # given: a service whose model check refuses what the serializer let through
    from django.core.exceptions import ValidationError

    from orchestration.work.api import projects as views

    def refuse(**kwargs):
        raise ValidationError({"name": ["Name is reserved."]})

    monkeypatch.setattr(views, "project_create", refuse)
    before = Mark(tenant)
    # when
    r = api_client.post("/api/projects", {"name": "admin"}, format="json")
    # then
    body = assert_error(r, 400, "VALIDATION_ERROR", "name: Name is reserved.")
    assert body["details"] == {"fields": {"name": ["Name is reserved."]}}
    before.assert_nothing_written()


def test_deeply_nested_json_is_400(api_client, tenant):
    # given
    before = Mark(tenant)
    # when
    r = api_client.generic("POST", "/api/projects", "[" * 200_000 + "]" * 200_000, content_type="application/json")
    # then
    assert_error(r, 400, "VALIDATION_ERROR", "Malformed JSON: nested too deeply")
    before.assert_nothing_written()


def test_nul_characters_anywhere_are_400_on_both_stores(api_client, viewer_client, tenant, project, task):
    # given: PostgreSQL cannot store NUL in text or jsonb; SQLite can — both must refuse alike
    from orchestration.work.services.sessions import session_create
    from tests.factories import SYSTEM

    session = session_create(tenant=tenant, actor=SYSTEM, project=project, task_ids=[])
    before = Mark(tenant)
    attempts = [
        (api_client, "GET", "/api/tasks/a%00b", None),
        (api_client, "GET", "/api/tasks?projectId=a%00b", None),
        (api_client, "GET", "/api/sessions?status%00=x", None),
        (viewer_client, "DELETE", "/api/tasks/a%00b", None),
        (api_client, "POST", "/api/projects", {"name": "a\u0000b"}),
        (api_client, "POST", "/api/sessions", {"projectId": project.id, "taskIds": [], "metadata": {"a": "x\u0000"}}),
        (api_client, "POST", "/api/sessions", {"projectId": project.id, "taskIds": [], "metadata": {"a\u0000": 1}}),
        (api_client, "POST", "/api/sessions", {"projectId": project.id, "taskIds": [], "env": {"A\u0000": "1"}}),
        (api_client, "POST", "/api/sessions/spawn", {"projectId": "p\u0000", "taskIds": [task.id]}),
        (api_client, "POST", "/api/sessions/spawn", {"projectId": project.id, "taskIds": ["t\u0000"]}),
        (api_client, "POST", f"/api/sessions/{session.id}/events", {"type": "x", "data": ["\u0000"]}),
        (api_client, "PATCH", f"/api/sessions/{session.id}", {"events": [{"type": "x", "data": {"k": "\u0000"}}]}),
        (api_client, "POST", f"/api/sessions/{session.id}/timeline", {"message": "m", "metadata": {"k": "\u0000"}}),
    ]
    # when
    responses = [client.generic(method, path, json.dumps(body) if body is not None else "",
                                content_type="application/json") for client, method, path, body in attempts]
    # then
    for (_, method, path, _), r in zip(attempts, responses, strict=True):
        assert r.status_code == 400, (method, path, r.content)
        assert_error(r, 400, "VALIDATION_ERROR")
    before.assert_nothing_written()


def test_lone_surrogates_and_absurd_nesting_in_json_fields_are_400(api_client, tenant, project):
    # given
    before = Mark(tenant)
    nested: dict = {}
    for _ in range(80):
        nested = {"a": nested}
    # when
    raw = json.dumps({"projectId": project.id, "taskIds": [], "metadata": {"a": "\ud800"}})
    surrogate = api_client.generic("POST", "/api/sessions", raw, content_type="application/json")
    deep = api_client.post("/api/sessions", {"projectId": project.id, "taskIds": [], "metadata": nested},
                           format="json")
    # then
    assert_error(surrogate, 400, "VALIDATION_ERROR", "metadata: Surrogate characters are not allowed.")
    assert_error(deep, 400, "VALIDATION_ERROR", "metadata: Nested deeper than 64 levels.")
    before.assert_nothing_written()


def test_a_denied_write_to_an_overlong_url_is_still_a_clean_403(viewer_client, tenant, project):
    # given: action and resource are cut to the audit row's columns (100 and 200 characters)
    long_id = "task_" + "x" * 300
    before = Mark(tenant)
    # when
    r = viewer_client.post(f"/api/tasks/{long_id}/subtasks", {"title": "x"}, format="json")
    # then
    assert_error(r, 403, "FORBIDDEN")
    denied = before.assert_denied()
    assert (denied.action, denied.resource) == (f"POST /api/tasks/{long_id}/subtasks"[:100], long_id[:200])
