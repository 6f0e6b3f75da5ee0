"""Roles and the tenant on the API (maestro.auth.permissions): default deny, a refused write
audited as denied."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from maestro.write_path.models import AuditEvent
from orchestration.work.models import Project
from tests.factories import make_task
from tests.support.api import assert_error
from tests.support.writes import Mark


def test_viewer_can_read(viewer_client, tenant, project):
    # given
    task = make_task(tenant, project)
    # when
    responses = [viewer_client.get(path) for path in (
        "/api/projects", f"/api/projects/{project.id}", "/api/tasks", f"/api/tasks/{task.id}",
        f"/api/tasks/{task.id}/children", "/api/sessions")]
    # then
    assert [r.status_code for r in responses] == [200] * 6


def test_viewer_writes_are_403_audited_as_denied_and_change_nothing(viewer_client, tenant, project):
    # given
    task = make_task(tenant, project)
    attempts = [
        ("post", "/api/projects", {"name": "x"}),
        ("patch", f"/api/projects/{project.id}", {"name": "x"}),
        ("put", f"/api/projects/{project.id}", {"name": "x"}),
        ("delete", f"/api/projects/{project.id}", None),
        ("post", "/api/tasks", {"projectId": project.id, "title": "x"}),
        ("patch", f"/api/tasks/{task.id}", {"title": "x"}),
        ("delete", f"/api/tasks/{task.id}", None),
        ("post", f"/api/tasks/{task.id}/timeline", {"message": "x"}),
        ("post", f"/api/tasks/{task.id}/subtasks", {"title": "x"}),
        ("post", "/api/sessions", {"projectId": project.id, "taskIds": [task.id]}),
    ]
    for method, path, body in attempts:
        before = Mark(tenant)
        # when
        r = getattr(viewer_client, method)(path, body, format="json", HTTP_X_REQUEST_ID=f"deny-{method}")
        # then
        body = assert_error(r, 403, "FORBIDDEN", "Requires the operator role")
        assert body["details"] == {"role": "viewer", "required": "operator"}
        denied = before.assert_denied()
        assert (denied.action, denied.actor_type, denied.request_id) == (
            f"{method.upper()} {path}", "api", f"deny-{method}")
    assert AuditEvent.objects.filter(status="denied").count() == len(attempts)


def test_denied_audit_names_the_resource(viewer_client, tenant, project):
    # when
    viewer_client.delete(f"/api/projects/{project.id}")
    # then
    denied = AuditEvent.objects.get(status="denied")
    assert (denied.resource, denied.resource_type, denied.policy_id) == (project.id, "project",
                                                                         "rbac.requires_operator")


def test_operator_and_admin_can_write(api_client, admin_client):
    # when
    by_operator = api_client.post("/api/projects", {"name": "a"}, format="json")
    by_admin = admin_client.post("/api/projects", {"name": "b"}, format="json")
    # then
    assert (by_operator.status_code, by_admin.status_code) == (201, 201)
    assert sorted(AuditEvent.objects.filter(action="project.create").values_list("actor", flat=True)) == [
        "ada", "olivia"]


def test_token_of_another_tenant_cannot_pick_this_tenant(other_client, tenant, project):
    # given
    before = Mark(tenant)
    # when
    read = other_client.get("/api/projects", HTTP_X_MAESTRO_TENANT="default")
    write = other_client.post("/api/projects", {"name": "x"}, format="json", HTTP_X_MAESTRO_TENANT="default")
    # then
    assert_error(read, 403, "FORBIDDEN")
    assert_error(write, 403, "FORBIDDEN")
    before.assert_nothing_written()


def test_token_with_its_own_tenant_header_works(other_client, other_tenant):
    # when
    r = other_client.post("/api/projects", {"name": "theirs"}, format="json", HTTP_X_MAESTRO_TENANT="other")
    # then
    assert r.status_code == 201, r.content
    assert Project.objects.get(id=r.json()["id"]).tenant_id == other_tenant.pk


def test_unknown_tenant_header_is_403(api_client):
    # when
    r = api_client.get("/api/projects", HTTP_X_MAESTRO_TENANT="nope")
    # then
    assert_error(r, 403, "FORBIDDEN")


def test_session_user_without_membership_is_403(tenant, project):
    # given: a logged-in user (browser session) who belongs to no tenant
    user = get_user_model().objects.create_user(username="stranger", password="pw-12345678")
    client = APIClient()
    client.force_login(user)
    # when
    r = client.get("/api/projects")
    # then
    assert_error(r, 403, "FORBIDDEN")
