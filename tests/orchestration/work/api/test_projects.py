from __future__ import annotations

import time

from orchestration.work.models import Project
from tests.factories import make_task
from tests.support.api import assert_error, is_id
from tests.support.writes import Mark


def test_create_project_returns_the_project_with_defaults(api_client, tenant):
    # given
    before = Mark(tenant)
    t0 = int(time.time() * 1000)
    # when
    r = api_client.post("/api/projects", {"name": "Payments"}, format="json", HTTP_X_REQUEST_ID="req-proj-1")
    # then
    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) == {"id", "name", "workingDir", "description", "version", "createdAt", "updatedAt"}
    assert is_id("proj", body["id"])
    assert (body["name"], body["workingDir"], body["description"], body["version"]) == ("Payments", "", "", 1)
    assert isinstance(body["createdAt"], int) and body["createdAt"] >= t0 - 1
    assert body["updatedAt"] == body["createdAt"]
    assert r["ETag"] == '"1"'
    assert r["X-Request-ID"] == "req-proj-1"
    row = Project.objects.get(id=body["id"])
    assert (row.tenant_id, row.name) == (tenant.pk, "Payments")
    before.assert_written(["audit:created", "project:created"], action="project.create", resource=body["id"],
                          request_id="req-proj-1")
    assert before.events()[1].data == body


def test_create_project_with_all_fields(api_client):
    # when
    r = api_client.post("/api/projects", {"name": "  Docs ", "workingDir": "/srv/docs", "description": "site"},
                        format="json")
    # then
    assert r.status_code == 201, r.content
    assert (r.json()["name"], r.json()["workingDir"], r.json()["description"]) == ("Docs", "/srv/docs", "site")


def test_create_project_without_name_is_400_and_stores_nothing(api_client, tenant):
    # given
    before = Mark(tenant)
    # when
    responses = [api_client.post("/api/projects", body, format="json")
                 for body in ({}, {"name": ""}, {"name": "   "}, {"workingDir": "/x"})]
    # then
    for r in responses:
        assert_error(r, 400, "VALIDATION_ERROR", "name is required")
    before.assert_nothing_written()


def test_list_projects_returns_own_tenant_projects_in_creation_order(api_client, project, other_project,
                                                                     foreign_project):
    # when
    r = api_client.get("/api/projects")
    # then
    assert r.status_code == 200
    assert [p["id"] for p in r.json()] == [project.id, other_project.id]
    assert "Link" not in r


def test_get_project(api_client, project):
    # when
    r = api_client.get(f"/api/projects/{project.id}")
    # then
    assert r.status_code == 200
    assert r.json()["id"] == project.id
    assert r.json()["name"] == "Payments"
    assert r["ETag"] == '"1"'


def test_get_missing_project_is_404(api_client, tenant):
    # when
    r = api_client.get("/api/projects/proj_0_missing")
    # then
    body = assert_error(r, 404, "PROJECT_NOT_FOUND", "Project not found")
    assert body["details"] == {"id": "proj_0_missing"}


def test_patch_project_changes_only_given_fields_and_bumps_version(api_client, tenant):
    # given
    created = api_client.post("/api/projects", {"name": "P", "workingDir": "/w", "description": "d"},
                              format="json").json()
    before = Mark(tenant)
    # when
    r = api_client.patch(f"/api/projects/{created['id']}", {"description": "new"}, format="json")
    # then
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["name"], body["workingDir"], body["description"], body["version"]) == ("P", "/w", "new", 2)
    assert body["createdAt"] == created["createdAt"]
    assert body["updatedAt"] >= created["updatedAt"]
    assert r["ETag"] == '"2"'
    row = Project.objects.get(id=created["id"])
    assert (row.description, row.version) == ("new", 2)
    before.assert_written(["audit:created", "project:updated"], action="project.update", resource=created["id"])
    assert before.events()[1].data == body


def test_put_project_is_a_partial_update(api_client, project):
    # when
    r = api_client.put(f"/api/projects/{project.id}", {"workingDir": "/srv"}, format="json")
    # then
    assert r.status_code == 200, r.content
    assert (r.json()["name"], r.json()["workingDir"]) == ("Payments", "/srv")


def test_patch_project_with_blank_name_is_400(api_client, tenant, project):
    # given
    before = Mark(tenant)
    # when
    r = api_client.patch(f"/api/projects/{project.id}", {"name": ""}, format="json")
    # then
    assert_error(r, 400, "VALIDATION_ERROR", "name is required")
    before.assert_nothing_written()


def test_patch_missing_project_is_404(api_client, tenant):
    # given
    before = Mark(tenant)
    # when
    r = api_client.patch("/api/projects/proj_nope", {"name": "x"}, format="json")
    # then
    assert_error(r, 404, "PROJECT_NOT_FOUND")
    before.assert_nothing_written()


def test_patch_with_current_if_match_succeeds(api_client, project):
    # given
    etag = api_client.get(f"/api/projects/{project.id}")["ETag"]
    # when
    r = api_client.patch(f"/api/projects/{project.id}", {"name": "Renamed"}, format="json", HTTP_IF_MATCH=etag)
    # then
    assert r.status_code == 200, r.content
    assert (r.json()["name"], r.json()["version"]) == ("Renamed", 2)
    assert r["ETag"] == '"2"'


def test_patch_with_weak_if_match_is_accepted(api_client, project):
    # when
    r = api_client.patch(f"/api/projects/{project.id}", {"name": "Renamed"}, format="json", HTTP_IF_MATCH='W/"1"')
    # then
    assert r.status_code == 200, r.content


def test_patch_with_stale_if_match_is_412_changes_nothing_and_is_recorded_as_denied(api_client, tenant, project):
    # given: someone else edited the project since we read version 1
    api_client.patch(f"/api/projects/{project.id}", {"name": "Theirs"}, format="json")
    before = Mark(tenant)
    # when
    r = api_client.patch(f"/api/projects/{project.id}", {"name": "Mine"}, format="json", HTTP_IF_MATCH='"1"')
    # then
    body = assert_error(r, 412, "PRECONDITION_FAILED")
    assert body["details"] == {"currentVersion": 2, "expectedVersion": 1}
    row = Project.objects.get(id=project.id)
    assert (row.name, row.version) == ("Theirs", 2)
    denial = before.assert_denied(policy_id="optimistic_concurrency", actor="olivia")
    assert (denial.action, denial.resource) == ("project.update", project.id)


def test_malformed_if_match_is_412(api_client, tenant, project):
    # given
    before = Mark(tenant)
    # when
    r = api_client.patch(f"/api/projects/{project.id}", {"name": "Mine"}, format="json", HTTP_IF_MATCH="yesterday")
    # then
    assert_error(r, 412, "PRECONDITION_FAILED")
    before.assert_nothing_written()


def test_delete_empty_project(api_client, tenant, project):
    # given
    before = Mark(tenant)
    # when
    r = api_client.delete(f"/api/projects/{project.id}")
    # then
    assert r.status_code == 200, r.content
    assert r.json() == {"success": True, "id": project.id}
    assert not Project.objects.filter(id=project.id).exists()
    before.assert_written(["audit:created", "project:deleted"], action="project.delete", resource=project.id)
    assert before.events()[1].data == {"id": project.id}


def test_delete_project_with_tasks_is_refused(api_client, tenant, project):
    # given
    make_task(tenant, project)
    before = Mark(tenant)
    # when
    r = api_client.delete(f"/api/projects/{project.id}")
    # then
    body = assert_error(r, 400, "PROJECT_HAS_DEPENDENCIES")
    assert body["details"] == {"tasks": 1, "sessions": 0}
    assert Project.objects.filter(id=project.id).exists()
    denial = before.assert_denied(policy_id="project_has_dependencies", actor="olivia")
    assert (denial.action, denial.resource) == ("project.delete", project.id)


def test_delete_project_with_sessions_is_refused(api_client, tenant, project, make_session):
    # given
    make_session(project)
    before = Mark(tenant)
    # when
    r = api_client.delete(f"/api/projects/{project.id}")
    # then
    body = assert_error(r, 400, "PROJECT_HAS_DEPENDENCIES")
    assert body["details"] == {"tasks": 0, "sessions": 1}
    before.assert_denied(policy_id="project_has_dependencies", actor="olivia")


def test_delete_with_stale_if_match_is_412(api_client, tenant, project):
    # given
    api_client.patch(f"/api/projects/{project.id}", {"name": "v2"}, format="json")
    before = Mark(tenant)
    # when
    r = api_client.delete(f"/api/projects/{project.id}", HTTP_IF_MATCH='"1"')
    # then
    assert_error(r, 412, "PRECONDITION_FAILED")
    denial = before.assert_denied(policy_id="optimistic_concurrency", actor="olivia")
    assert denial.action == "project.delete"


def test_delete_missing_project_is_404(api_client, tenant):
    # given
    before = Mark(tenant)
    # when
    r = api_client.delete("/api/projects/proj_missing")
    # then
    assert_error(r, 404, "PROJECT_NOT_FOUND")
    before.assert_nothing_written()
