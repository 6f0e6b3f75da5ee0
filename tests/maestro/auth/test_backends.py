"""Authentication, tenancy and roles on the API (DESIGN §3, §4): default deny."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from rest_framework.test import APIClient

from maestro.tenancy.models import ApiToken, Membership
from maestro.write_path.models import AuditEvent
from orchestration.work.models import Project
from tests.factories import SYSTEM, make_project, make_task, make_token
from tests.orchestration.work.api.helpers import assert_error, mark


def client_with(header: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


@pytest.fixture
def project(tenant):
    return make_project(tenant)


def test_no_credentials_is_401_on_reads_and_writes(anon_client, tenant, project):
    # given
    before = mark(tenant)
    # when
    responses = [anon_client.get("/api/projects"), anon_client.get(f"/api/projects/{project.id}"),
                 anon_client.post("/api/projects", {"name": "x"}, format="json"),
                 anon_client.delete(f"/api/projects/{project.id}"), anon_client.get("/api/tasks"),
                 anon_client.get("/api/sessions"), anon_client.post("/api/sessions/spawn", {}, format="json")]
    # then
    for r in responses:
        assert_error(r, 401, "UNAUTHORIZED")
        assert r["WWW-Authenticate"] == 'Bearer realm="maestro"'
    before.assert_nothing_written()


def test_bad_tokens_are_401(tenant, project):
    # given
    before = mark(tenant)
    clients = [client_with("Bearer mae_not-a-real-token"), client_with("Bearer not-a-maestro-token"),
               client_with("Basic dXNlcjpwYXNz"), client_with("Bearer "), client_with("Token abc")]
    # when
    responses = [c.post("/api/projects", {"name": "x"}, format="json") for c in clients]
    # then
    for r in responses:
        assert_error(r, 401, "UNAUTHORIZED")
    before.assert_nothing_written()


def test_revoked_token_is_401(tenant, project):
    # given
    from maestro.tenancy.services import api_token_revoke

    raw = make_token(username="rita", tenant=tenant, role="operator")
    client = client_with(f"Bearer {raw}")
    assert client.get("/api/projects").status_code == 200
    api_token_revoke(token=ApiToken.objects.get(user__username="rita"), actor=SYSTEM)
    before = mark(tenant)
    # when
    read = client.get("/api/projects")
    write = client.post("/api/projects", {"name": "x"}, format="json")
    # then
    assert_error(read, 401, "UNAUTHORIZED")
    assert_error(write, 401, "UNAUTHORIZED")
    before.assert_nothing_written()


def test_token_of_an_inactive_user_is_401(tenant):
    # given
    raw = make_token(username="ivan", tenant=tenant, role="operator")
    get_user_model().objects.filter(username="ivan").update(is_active=False)
    # when
    r = client_with(f"Bearer {raw}").get("/api/projects")
    # then
    assert_error(r, 401, "UNAUTHORIZED")


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
        before = mark(tenant)
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
    before = mark(tenant)
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


def test_session_user_with_membership_acts_in_their_tenant(tenant, project):
    # given
    user = get_user_model().objects.create_user(username="bea", password="pw-12345678")
    Membership.objects.create(user=user, tenant=tenant, role="viewer")
    client = APIClient()
    client.force_login(user)
    # when
    r = client.get("/api/projects")
    # then
    assert r.status_code == 200
    assert [p["id"] for p in r.json()] == [project.id]


@override_settings(MAESTRO_DEV_LOOPBACK_AUTH=True)
def test_dev_loopback_acts_as_local_operator_of_the_default_tenant(tenant):
    # given
    client = APIClient()
    before = mark(tenant)
    # when
    r = client.post("/api/projects", {"name": "local"}, format="json", REMOTE_ADDR="127.0.0.1")
    # then
    assert r.status_code == 201, r.content
    assert Project.objects.get(id=r.json()["id"]).tenant_id == tenant.pk
    before.assert_written(["audit:created", "project:created"], action="project.create", actor="local-operator",
                          actor_type="user")
    assert Membership.objects.get(user__username="local-operator").role == "operator"


@override_settings(MAESTRO_DEV_LOOPBACK_AUTH=True)
def test_dev_loopback_accepts_ipv6_loopback(tenant):
    # when
    r = APIClient().get("/api/projects", REMOTE_ADDR="::1")
    # then
    assert r.status_code == 200


@override_settings(MAESTRO_DEV_LOOPBACK_AUTH=True)
def test_dev_loopback_does_not_cover_remote_addresses(tenant):
    # given
    before = mark(tenant)
    # when
    remote = APIClient().post("/api/projects", {"name": "x"}, format="json", REMOTE_ADDR="10.0.0.5")
    spoofed = APIClient().post("/api/projects", {"name": "x"}, format="json", REMOTE_ADDR="10.0.0.5",
                               HTTP_X_FORWARDED_FOR="127.0.0.1")
    # then
    assert_error(remote, 401, "UNAUTHORIZED")
    assert_error(spoofed, 401, "UNAUTHORIZED")
    before.assert_nothing_written()


@override_settings(MAESTRO_DEV_LOOPBACK_AUTH=True)
def test_dev_loopback_never_overrides_a_bad_token(tenant):
    # when
    r = client_with("Bearer mae_wrong").post("/api/projects", {"name": "x"}, format="json", REMOTE_ADDR="127.0.0.1")
    # then
    assert_error(r, 401, "UNAUTHORIZED")
    assert not Project.objects.exists()


def test_loopback_is_off_in_the_test_settings(tenant):
    # when
    r = APIClient().get("/api/projects", REMOTE_ADDR="127.0.0.1")
    # then
    assert_error(r, 401, "UNAUTHORIZED")
