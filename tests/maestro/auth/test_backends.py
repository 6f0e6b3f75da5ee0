"""Authentication on the API (maestro.auth.backends): tokens, sessions, the dev loopback; no
credentials or bad ones are 401 and change nothing."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import override_settings
from rest_framework.test import APIClient

from maestro.tenancy.models import ApiToken, Membership
from orchestration.work.models import Project
from tests.factories import SYSTEM, make_token
from tests.support.api import assert_error
from tests.support.writes import Mark


def client_with(header: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


def test_no_credentials_is_401_on_reads_and_writes(anon_client, tenant, project):
    # given
    before = Mark(tenant)
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
    before = Mark(tenant)
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
    before = Mark(tenant)
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
    before = Mark(tenant)
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
    before = Mark(tenant)
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
