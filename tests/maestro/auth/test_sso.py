"""Single sign-on against a real OpenID provider (django-oidc-provider, started by the test):
the callback links the person by (issuer, subject), sets memberships from the groups claim at
each sign-in, and refuses a wrong state, a replayed code and a nonce mismatch."""

from __future__ import annotations

import logging
import re
import socket
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client

from maestro.core.roles import Role
from maestro.tenancy.models import Membership, OidcIdentity, Tenant
from maestro.tenancy.services import default_tenant
from maestro.write_path.models import AuditEvent
from tests.support.oidc_provider import OidcProvider, oidc_provider  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db
CALLBACK = "http://testserver/sso/callback"
STATE_PREFIX = "_state_maestro_sso_"


@pytest.fixture
def sso(oidc_provider, settings) -> OidcProvider:  # noqa: F811
    settings.SSO_ISSUER = oidc_provider.issuer
    settings.SSO_CLIENT_ID = "maestro-admin"
    settings.SSO_CLIENT_SECRET = "s3cret-of-the-client"
    settings.SSO_GROUP_ROLES = "maestro-acme-admins=acme:admin,maestro-beta-viewers=beta:viewer"
    settings.SSO_STAFF_GROUPS = ["maestro-staff"]
    settings.MAESTRO_PUBLIC_URL = "http://testserver"
    oidc_provider.add_client(client_id="maestro-admin", client_secret="s3cret-of-the-client",
                             redirect_uri=CALLBACK, post_logout_redirect_uri="http://testserver/admin/login/")
    return oidc_provider


def provider_authorizes(authorize_url: str, username: str, password: str) -> dict[str, str]:
    """A person signs in at the provider; the code and state it sends back to Maestro."""
    http = requests.Session()
    page = http.get(authorize_url, timeout=10)  # the provider's login page
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match, page.text
    next_url = dict(parse_qsl(urlsplit(page.url).query))["next"]
    signed_in = http.post(page.url, data={"csrfmiddlewaretoken": match.group(1), "username": username,
                                          "password": password, "next": next_url}, allow_redirects=False, timeout=10)
    assert signed_in.status_code == 302, signed_in.text
    back = http.get(urljoin(page.url, signed_in.headers["Location"]), allow_redirects=False, timeout=10)
    location = back.headers["Location"]
    assert location.startswith(CALLBACK + "?"), location
    return dict(parse_qsl(urlsplit(location).query))


def start(client: Client, next_url: str = "/admin/") -> str:
    started = client.get("/sso/login", {"next": next_url})
    assert started.status_code == 302
    params = dict(parse_qsl(urlsplit(started["Location"]).query))
    assert params["code_challenge_method"] == "S256" and params["code_challenge"] and params["nonce"]
    return started["Location"]


def sign_in(client: Client, provider: OidcProvider, username: str, groups: list[str], next_url: str = "/admin/"):
    provider.add_user(username=username, password=f"{username}-pass-7", groups=groups)
    answer = provider_authorizes(start(client, next_url), username, f"{username}-pass-7")
    return client.get("/sso/callback", answer)


def memberships(user) -> set[tuple[str, str]]:
    return {(m.tenant.slug, m.role) for m in Membership.objects.select_related("tenant").filter(user=user)}


def test_groups_give_memberships_updated_at_each_sign_in(sso, client):
    # given: a local superuser with the provider user's name, and an operator-granted membership
    local = get_user_model().objects.create_superuser("alice", "", "local-pass-9")
    response = sign_in(client, sso, "alice", ["maestro-acme-admins", "maestro-beta-viewers", "maestro-staff"],
                       next_url="/admin/tenancy/membership/")
    assert response.status_code == 302 and response["Location"] == "/admin/tenancy/membership/"
    identity = OidcIdentity.objects.select_related("user").get(issuer=sso.issuer)
    user = identity.user
    assert user.pk != local.pk and user.username.startswith("oidc:") and user.is_staff and not user.is_superuser
    assert int(client.session["_auth_user_id"]) == user.pk
    assert memberships(user) == {("acme", Role.ADMIN), ("beta", Role.VIEWER)}
    Membership.objects.create(user=user, tenant=default_tenant(), role=Role.OPERATOR)

    # when: the provider removes alice from the acme and staff groups, and she signs in again
    again = Client()
    assert sign_in(again, sso, "alice", ["maestro-beta-viewers"]).status_code == 302

    # then: the acme membership and her admin access are gone; the operator's grant stays
    user.refresh_from_db()
    assert OidcIdentity.objects.count() == 1 and not user.is_staff
    assert memberships(user) == {("beta", Role.VIEWER), ("default", Role.OPERATOR)}
    assert AuditEvent.objects.filter(action="membership.delete", tenant__slug="acme").count() == 1
    assert AuditEvent.objects.filter(action="user.sign_in", tenant__slug="beta").count() == 2
    assert local.memberships.count() == 0 and get_user_model().objects.get(pk=local.pk).is_superuser


def test_a_roles_claim_gives_memberships_and_then_the_provider_manages_all_of_them(sso, client, settings):
    settings.SSO_ROLES_CLAIM = "maestro_roles"
    # when: rita's roles claim names two tenants, and a group gives her a third
    response = sign_in(client, sso, "rita", ["role:acme:operator", "role:gamma:viewer", "maestro-beta-viewers"])
    assert response.status_code == 302
    user = OidcIdentity.objects.select_related("user").get(issuer=sso.issuer).user
    assert memberships(user) == {("acme", Role.OPERATOR), ("gamma", Role.VIEWER), ("beta", Role.VIEWER)}
    assert Tenant.objects.filter(slug="gamma").exists()
    Membership.objects.create(user=user, tenant=default_tenant(), role=Role.OPERATOR)

    # when: the claim drops gamma and a group makes her admin of acme
    assert sign_in(Client(), sso, "rita", ["role:acme:operator", "maestro-acme-admins"]).status_code == 302

    # then: the higher role wins, and every tenant nothing names any more is gone (a roles claim
    # makes the provider the source of all of her memberships)
    assert memberships(user) == {("acme", Role.ADMIN)}
    assert set(AuditEvent.objects.filter(action="membership.delete").values_list("tenant__slug", flat=True)) == {
        "gamma", "beta", "default"}


def test_a_roles_claim_naming_an_unknown_role_is_refused_and_links_no_one(sso, client, settings, caplog):
    settings.SSO_ROLES_CLAIM = "maestro_roles"
    with caplog.at_level(logging.WARNING):
        response = sign_in(client, sso, "ivan", ["role:acme:overlord"])
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert not OidcIdentity.objects.exists() and not Membership.objects.exists() and not AuditEvent.objects.exists()
    refused_with(caplog, "ValueError")


def test_a_user_with_no_mapped_group_gets_no_membership(sso, client):
    response = sign_in(client, sso, "bob", ["engineering"])
    assert response.status_code == 302
    user = OidcIdentity.objects.get(issuer=sso.issuer).user
    assert memberships(user) == set() and not user.is_staff
    assert not Tenant.objects.filter(slug__in=["acme", "beta"]).exists()
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_a_next_url_of_another_site_is_not_followed(sso, client):
    response = sign_in(client, sso, "carol", ["maestro-staff"], next_url="https://evil.example/admin/")
    assert response.status_code == 302 and response["Location"] == "/"  # the dashboard


def refused_with(caplog, error: str) -> None:
    refusals = [r for r in caplog.records if getattr(r, "event", "") == "sso.refused"]
    assert [getattr(r, "error", "") for r in refusals] == [error]


def test_a_wrong_state_is_refused(sso, client, caplog):
    sso.add_user(username="dave", password="dave-pass-7", groups=["maestro-acme-admins"])
    answer = provider_authorizes(start(client), "dave", "dave-pass-7")
    with caplog.at_level(logging.WARNING):
        response = client.get("/sso/callback", {**answer, "state": "not-the-state-we-sent"})
    assert response.status_code == 403
    refused_with(caplog, "mismatching_state")
    assert "_auth_user_id" not in client.session and not OidcIdentity.objects.exists()
    assert not Membership.objects.exists()


def test_a_replayed_code_is_refused(sso, client, caplog):
    sso.add_user(username="erin", password="erin-pass-7", groups=["maestro-acme-admins"])
    answer = provider_authorizes(start(client), "erin", "erin-pass-7")
    pending = {k: v for k, v in client.session.items() if k.startswith(STATE_PREFIX)}
    assert client.get("/sso/callback", answer).status_code == 302
    # when: an attacker replays the code and state with the same pending sign-in in a session of its own
    attacker = Client()
    session = attacker.session
    session.update(pending)
    session.save()
    with caplog.at_level(logging.WARNING):
        response = attacker.get("/sso/callback", answer)
    assert response.status_code == 403
    refused_with(caplog, "invalid_grant")
    assert "_auth_user_id" not in attacker.session
    assert AuditEvent.objects.filter(action="user.sign_in").count() == 1


def test_a_nonce_mismatch_is_refused(sso, client, caplog):
    sso.add_user(username="frank", password="frank-pass-7", groups=["maestro-acme-admins"])
    answer = provider_authorizes(start(client), "frank", "frank-pass-7")
    session = client.session
    key = STATE_PREFIX + answer["state"]
    pending = session[key]
    pending["data"]["nonce"] = "a-nonce-maestro-never-sent"
    session[key] = pending
    session.save()
    with caplog.at_level(logging.WARNING):
        response = client.get("/sso/callback", answer)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session and not OidcIdentity.objects.exists()
    refused_with(caplog, "invalid_claim")
    [refusal] = [r for r in caplog.records if getattr(r, "event", "") == "sso.refused"]
    assert getattr(refusal, "detail", "") == "Invalid claim: 'nonce'"


def test_local_login_switched_off_refuses_a_password(sso, client, settings):
    settings.MAESTRO_LOCAL_LOGIN = False
    get_user_model().objects.create_superuser("root", "", "break-glass-1")
    page = client.get("/admin/login/")
    assert page.status_code == 200
    assert b'id="sso-login"' in page.content and b'name="password"' not in page.content
    response = client.post("/admin/login/", {"username": "root", "password": "break-glass-1", "next": "/admin/"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_local_login_stays_for_break_glass(sso, client):
    get_user_model().objects.create_superuser("root", "", "break-glass-1")
    page = client.get("/admin/login/")
    assert b'id="sso-login"' in page.content and b'name="password"' in page.content
    response = client.post("/admin/login/", {"username": "root", "password": "break-glass-1", "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_password_sign_in_and_sign_out_are_audited(sso, client):
    root = get_user_model().objects.create_superuser("root", "", "break-glass-1")
    Membership.objects.create(user=root, tenant=default_tenant(), role=Role.ADMIN)
    client.post("/admin/login/", {"username": "root", "password": "break-glass-1", "next": "/admin/"})
    response = client.post("/admin/logout/")
    assert response.status_code == 302 and response["Location"] == "/admin/login/"
    assert "_auth_user_id" not in client.session
    rows = AuditEvent.objects.filter(tenant__slug="default").order_by("id").values_list("action", "actor", "details")
    assert list(rows) == [("user.sign_in", "root", "root signed in (password) as admin"),
                          ("user.sign_out", "root", "root signed out (password)")]


def test_a_deactivated_user_is_refused(sso, client):
    assert sign_in(client, sso, "gina", ["maestro-acme-admins"]).status_code == 302
    user = OidcIdentity.objects.get(issuer=sso.issuer).user
    user.is_active = False
    user.save(update_fields=["is_active"])
    again = Client()
    response = sign_in(again, sso, "gina", ["maestro-acme-admins"])
    assert response.status_code == 403
    assert "_auth_user_id" not in again.session
    assert AuditEvent.objects.filter(action="user.sign_in").count() == 1


def test_an_unreachable_provider_is_a_502_not_an_error(client, settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket is closed
    settings.SSO_ISSUER = f"http://127.0.0.1:{port}/openid"
    settings.SSO_CLIENT_ID = "maestro-admin"
    response = client.get("/sso/login")
    assert response.status_code == 502
    assert response.content == b"The identity provider cannot be reached. Try again later."
    assert not [k for k in client.session.keys() if k.startswith(STATE_PREFIX)]


def test_an_id_token_of_another_issuer_than_the_configured_one_is_refused(sso, client, settings, caplog):
    # the discovery document at the configured address names another issuer than that address
    settings.SSO_ISSUER = sso.issuer.replace("127.0.0.1", "localhost")
    sso.add_user(username="hank", password="hank-pass-7", groups=["maestro-acme-admins"])
    answer = provider_authorizes(start(client), "hank", "hank-pass-7")
    with caplog.at_level(logging.WARNING):
        response = client.get("/sso/callback", answer)
    assert response.status_code == 403
    [refusal] = [r for r in caplog.records if getattr(r, "event", "") == "sso.refused"]
    assert getattr(refusal, "reason", "") == "issuer"
    assert "_auth_user_id" not in client.session and not OidcIdentity.objects.exists()
