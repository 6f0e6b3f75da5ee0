"""API access with an identity provider's JWTs (maestro.auth.backends, maestro.tenancy.access),
against a real JWKS server and real RS256/ES256 keys (tests/support/oidc.py): an identity is
(issuer, subject) and becomes a user of its own, never a local account; a tenant and role come
from claims only when the issuer is trusted to grant them; a key removed from the set stops
working once the set is refreshed; every refusal is the one 401 shape and writes nothing."""

from __future__ import annotations

import io
import logging
import threading
import time
from typing import Any

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from maestro.core.actors import Actor
from maestro.tenancy.models import Membership, OidcIdentity, oidc_username
from maestro.tenancy.services import oidc_identity_link
from maestro.write_path.models import AuditEvent
from tests.factories import make_token
from tests.support.api import assert_error
from tests.support.oidc import AUDIENCE, ISSUER, JwksServer
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db

User = get_user_model()


def bearer(token: str, tenant: str | None = None) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    if tenant is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_MAESTRO_TENANT=tenant)
    return client


def close_pooled_connections() -> None:
    """After request threads: their connections went back to the process's pool, which keeps
    them open, and later tests that count the database's sessions (tests/e2e) would find them.
    The pool is closed (this thread's connection with it); the next query opens a new one."""
    connection.close()
    if connection.vendor == "postgresql":
        connection.close_pool()


def users() -> list[str]:
    return sorted(User.objects.values_list("username", flat=True))


def test_a_token_naming_a_local_admin_is_not_that_admin(idp: JwksServer, tenant, other_tenant):
    # given: a local superuser "admin" and an API-token-only user "rita"
    User.objects.create_superuser(username="admin", password="pw-not-used-here-1234")
    make_token(username="rita", tenant=other_tenant, role="admin")
    before_users = users()
    mark = Mark(other_tenant)
    as_admin = idp.token(preferred_username="admin", sub="admin")
    as_rita = idp.token(preferred_username="rita", sub="rita")
    # when
    responses = [bearer(t, "other").post("/api/projects", {"name": "x"}, format="json") for t in (as_admin, as_rita)]
    # then: neither is that account (nor a member of anything), and nothing was created for them
    for r in responses:
        assert_error(r, 403, "FORBIDDEN", "You are not a member of this tenant")
    assert users() == before_users
    assert OidcIdentity.objects.count() == 0
    mark.assert_nothing_written()


def test_an_identity_is_its_issuer_and_subject_with_a_user_of_its_own(idp: JwksServer, tenant, settings):
    # given: the issuer is trusted to grant tenants and roles
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    User.objects.create_user(username="alice", password="pw-not-used-here-1234")
    token = idp.token(sub="alice", preferred_username="alice", maestro_tenant="default", maestro_role="operator")
    # when
    first = bearer(token).post("/api/projects", {"name": "one"}, format="json")
    second = bearer(token).post("/api/projects", {"name": "two"}, format="json")
    # then
    assert (first.status_code, second.status_code) == (201, 201)
    identity = OidcIdentity.objects.get()
    assert (identity.issuer, identity.subject) == (ISSUER, "alice")
    assert identity.user.username != "alice"
    assert identity.user.username.startswith("oidc:")
    assert not identity.user.has_usable_password()
    assert users() == sorted(["alice", identity.user.username])


@pytest.mark.parametrize("sub", ["", None, "   "])
def test_a_token_without_a_subject_is_401_and_creates_no_user(idp: JwksServer, tenant, settings, sub):
    # given
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    mark = Mark(tenant)
    token = idp.token(sub=sub, maestro_tenant="default", maestro_role="admin")
    # when
    r = bearer(token).post("/api/projects", {"name": "x"}, format="json")
    # then
    assert_error(r, 401, "UNAUTHORIZED", "Invalid bearer token")
    assert users() == []
    mark.assert_nothing_written()


def test_a_refused_token_creates_no_user(idp: JwksServer, tenant, other_tenant, settings):
    # given: claims grant "default" only; the caller asks for "other"
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    mark = Mark(other_tenant)
    token = idp.token(sub="bob", maestro_tenant="default", maestro_role="admin")
    # when
    r = bearer(token, "other").post("/api/projects", {"name": "x"}, format="json")
    # then
    assert_error(r, 403, "FORBIDDEN")
    assert users() == []
    assert OidcIdentity.objects.count() == 0
    mark.assert_nothing_written()


@pytest.mark.parametrize("tenant_claim", [None, ""])
def test_a_role_claim_without_a_tenant_claim_grants_no_tenant(idp: JwksServer, tenant, other_tenant, settings,
                                                               tenant_claim):
    # given
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    mark = Mark(other_tenant)
    token = idp.token(sub="carol", maestro_tenant=tenant_claim, maestro_role="admin")
    # when
    r = bearer(token, "other").post("/api/projects", {"name": "x"}, format="json")
    # then
    assert_error(r, 403, "FORBIDDEN")
    assert users() == []
    mark.assert_nothing_written()


def test_claims_grant_nothing_unless_the_issuer_is_trusted_to(idp: JwksServer, tenant, other_tenant):
    # given: OIDC_CLAIMS_GRANT_ACCESS is off (the default)
    mark = Mark(other_tenant)
    token = idp.token(sub="dave", maestro_tenant="other", maestro_role="admin")
    # when
    r = bearer(token, "other").post("/api/projects", {"name": "x"}, format="json")
    # then
    assert_error(r, 403, "FORBIDDEN", "You are not a member of this tenant")
    assert users() == []
    mark.assert_nothing_written()


def test_a_linked_identity_acts_with_its_users_memberships(idp: JwksServer, tenant, other_tenant):
    # given: an operator linked (issuer, subject) to a user who views "other"
    user = User.objects.create(username="erin")
    Membership.objects.create(user=user, tenant=other_tenant, role="viewer")
    oidc_identity_link(issuer=ISSUER, subject="erin-sub", user=user, actor=Actor.system("test"))
    token = idp.token(sub="erin-sub", maestro_tenant="other", maestro_role="admin")
    mark = Mark(other_tenant)
    # when
    read = bearer(token, "other").get("/api/projects")
    write = bearer(token, "other").post("/api/projects", {"name": "x"}, format="json")
    # then: a viewer, whatever the token claims
    assert read.status_code == 200
    assert_error(write, 403, "FORBIDDEN", "Requires the operator role")
    mark.assert_denied(actor=f"erin-sub via {ISSUER}")


def test_a_linked_identity_without_a_tenant_header_acts_in_its_users_only_tenant(idp: JwksServer, tenant,
                                                                                 other_tenant):
    # given
    user = User.objects.create(username="lena")
    Membership.objects.create(user=user, tenant=other_tenant, role="operator")
    oidc_identity_link(issuer=ISSUER, subject="lena-sub", user=user, actor=Actor.system("test"))
    mark = Mark(other_tenant)
    # when
    r = bearer(idp.token(sub="lena-sub")).post("/api/projects", {"name": "x"}, format="json")
    # then
    assert r.status_code == 201
    mark.assert_written(["audit:created", "project:created"], action="project.create", actor=f"lena-sub via {ISSUER}")


def test_a_deactivated_users_token_is_401(idp: JwksServer, tenant):
    # given
    user = User.objects.create(username="frank")
    Membership.objects.create(user=user, tenant=tenant, role="operator")
    oidc_identity_link(issuer=ISSUER, subject="frank-sub", user=user, actor=Actor.system("test"))
    token = idp.token(sub="frank-sub")
    assert bearer(token).get("/api/projects").status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    mark = Mark(tenant)
    # when
    read = bearer(token).get("/api/projects")
    write = bearer(token).post("/api/projects", {"name": "x"}, format="json")
    # then
    assert_error(read, 401, "UNAUTHORIZED", "Invalid bearer token")
    assert_error(write, 401, "UNAUTHORIZED", "Invalid bearer token")
    mark.assert_nothing_written()


def test_the_audit_row_names_the_issuer_and_subject(idp: JwksServer, tenant, settings):
    # given
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    mark = Mark(tenant)
    token = idp.token("e1", sub="gina-sub", maestro_tenant="default", maestro_role="operator")
    # when
    r = bearer(token).post("/api/projects", {"name": "x"}, format="json")
    # then
    assert r.status_code == 201
    mark.assert_written(["audit:created", "project:created"], action="project.create", actor=f"gina-sub via {ISSUER}")


def _granted(idp: JwksServer, kid: str) -> int:
    token = idp.token(kid, sub="henry", maestro_tenant="default", maestro_role="viewer")
    return int(bearer(token).get("/api/projects").status_code)


def test_a_key_removed_from_the_set_is_refused_once_the_set_is_refreshed(idp: JwksServer, tenant, settings):
    # given: k1 has been used (and cached); the provider then rotates to k2
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    assert _granted(idp, "k1") == 200
    idp.remove("k1")
    idp.add("k2")
    # when: a token signed with the new key makes Maestro refresh the set
    new = _granted(idp, "k2")
    old = _granted(idp, "k1")
    # then
    assert (new, old) == (200, 401)


def test_the_set_is_refreshed_on_its_period(idp: JwksServer, tenant, settings):
    # given: a refresh period of zero (every use is past it)
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    settings.OIDC_JWKS_REFRESH_SECONDS = 0
    assert _granted(idp, "k1") == 200
    # when
    idp.remove("k1")
    # then
    assert _granted(idp, "k1") == 401


def test_unknown_kids_refresh_the_set_at_most_once_per_interval(idp: JwksServer, tenant, settings):
    # given: the set has been fetched once
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    settings.OIDC_JWKS_MIN_REFRESH_SECONDS = 3600
    assert _granted(idp, "k1") == 200
    fetched = idp.hits
    # when: a flood of tokens naming kids nobody published
    idp.add("stranger", publish=False)
    codes = [_granted(idp, "k1") for _ in range(2)] + \
            [int(bearer(idp.token("stranger", header_kid=f"kid-{i}")).get("/api/projects").status_code)
             for i in range(20)]
    # then: one refetch, and the known key kept working
    assert codes == [200, 200] + [401] * 20
    assert idp.hits == fetched + 1


@pytest.mark.django_db(transaction=True)
def test_a_hung_jwks_endpoint_does_not_hold_up_tokens_whose_key_is_cached(idp: JwksServer, tenant, settings):
    # given: k1 is cached; the endpoint then hangs on the next fetch
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    settings.OIDC_JWKS_TIMEOUT_SECONDS = 20
    assert _granted(idp, "k1") == 200
    idp.add("k2", publish=False)
    idp.hold = True
    stuck: list[int] = []

    def refresh() -> None:
        try:
            stuck.append(_granted(idp, "k2"))
        finally:
            connection.close()

    refresher = threading.Thread(target=refresh)
    refresher.start()
    assert idp.held.wait(10)
    # when: the refresh is still hanging
    during = _granted(idp, "k1")
    still_hanging = refresher.is_alive()
    idp.release()
    refresher.join(30)
    close_pooled_connections()
    # then
    assert (during, still_hanging) == (200, True)
    assert stuck == [401]


def test_a_hung_jwks_endpoint_is_given_up_on_after_the_timeout(idp: JwksServer, tenant, settings):
    # given
    settings.OIDC_JWKS_TIMEOUT_SECONDS = 0.5
    idp.hold = True
    # when
    r = bearer(idp.token()).get("/api/projects")
    # then: refused while the endpoint is still holding the fetch
    held = not idp._release.is_set()
    idp.release()
    assert_error(r, 401, "UNAUTHORIZED", "Invalid bearer token")
    assert held


@pytest.mark.parametrize("signing_alg", ["ES256", "HS256"])
def test_an_alg_that_does_not_match_its_keys_type_is_a_plain_401(idp: JwksServer, tenant, caplog, signing_alg):
    # given: a token naming the RSA key k1 but signed as ES256 (with e1's key) or HS256
    caplog.set_level(logging.INFO)
    if signing_alg == "ES256":
        token = idp.token("k1", signing_kid="e1", alg="ES256")
    else:
        token = jwt.encode({"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60},
                           "a-shared-secret-of-32-bytes-long!", algorithm="HS256", headers={"kid": "k1"})
    mark = Mark(tenant)
    # when
    r = bearer(token).post("/api/projects", {"name": "x"}, format="json")
    # then
    assert_error(r, 401, "UNAUTHORIZED", "Invalid bearer token")
    assert [rec for rec in caplog.records if rec.levelno >= logging.ERROR or rec.exc_info] == []
    mark.assert_nothing_written()


def test_a_symmetric_key_in_the_set_signs_nothing(idp: JwksServer, tenant, settings):
    # given: a set that (wrongly) publishes an HS256 secret beside k1
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    secret = "a-shared-secret-of-32-bytes-long!"
    idp.extra.append({"kty": "oct", "kid": "h1", "alg": "HS256",
                      "k": jwt.utils.base64url_encode(secret.encode()).decode()})
    token = jwt.encode({"sub": "mallory", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60,
                        "maestro_tenant": "default", "maestro_role": "admin"}, secret, algorithm="HS256",
                       headers={"kid": "h1"})
    # when
    r = bearer(token).post("/api/projects", {"name": "x"}, format="json")
    # then
    assert_error(r, 401, "UNAUTHORIZED", "Invalid bearer token")
    assert users() == []
    assert _granted(idp, "k1") == 200


def test_keys_held_survive_a_refresh_that_fails(idp: JwksServer, tenant, settings):
    # given: k1 is held; every use is past the refresh period; the endpoint then hangs
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    settings.OIDC_JWKS_REFRESH_SECONDS = 0
    settings.OIDC_JWKS_TIMEOUT_SECONDS = 0.5
    assert _granted(idp, "k1") == 200
    idp.hold = True
    # when
    code = _granted(idp, "k1")
    # then: the provider's outage locks nobody out
    assert code == 200
    assert idp.hits == 2


def test_clock_skew_within_the_leeway_is_accepted(idp: JwksServer, tenant, settings):
    # given: the default leeway (60 s); a provider clock 30 s ahead, and one token 30 s stale
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "ivy", "maestro_tenant": "default", "maestro_role": "viewer"}
    ahead = idp.token(**claims, iat=now + 30, nbf=now + 30, exp=now + 330)
    stale = idp.token(**claims, iat=now - 330, exp=now - 30)
    too_stale = idp.token(**claims, iat=now - 400, exp=now - 120)
    # when
    codes = [bearer(t).get("/api/projects").status_code for t in (ahead, stale, too_stale)]
    # then
    assert codes == [200, 200, 401]


def test_the_leeway_is_a_setting(idp: JwksServer, tenant, settings):
    # given
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    settings.OIDC_LEEWAY_SECONDS = 0
    now = int(time.time())
    token = idp.token(sub="ivy", maestro_tenant="default", maestro_role="viewer", iat=now - 330, exp=now - 30)
    # when
    r = bearer(token).get("/api/projects")
    # then
    assert_error(r, 401, "UNAUTHORIZED", "Invalid bearer token")


def test_refusals_do_not_echo_the_token_or_internal_errors(idp: JwksServer, tenant):
    # given
    huge_kid = "K" * 100_000
    tokens = [idp.token(header_kid=huge_kid), idp.token(aud="someone-else"), idp.token(iss="https://evil.test"),
              idp.token(exp=int(time.time()) - 3600), "eyJhbGciOiJub25lIn0.e30.", "not-a-jwt"]
    # when
    responses = [bearer(t).get("/api/projects") for t in tokens]
    # then
    for r in responses:
        body = assert_error(r, 401, "UNAUTHORIZED", "Invalid bearer token")
        assert body["details"] == {}
        assert len(r.content) < 300


def test_link_oidc_identity_links_an_existing_user_once(idp: JwksServer, tenant):
    # given
    user = User.objects.create(username="kim")
    Membership.objects.create(user=user, tenant=tenant, role="operator")
    out = io.StringIO()
    # when
    call_command("link_oidc_identity", "--issuer", ISSUER, "--subject", "kim-sub", "--username", "kim", stdout=out)
    # then
    assert out.getvalue().strip() == f"kim-sub via {ISSUER} is now kim"
    # and: the link is audited in the user's tenant, by the command
    assert list(AuditEvent.objects.values_list("tenant__slug", "actor", "action", "details")) == [
        ("default", "manage.py link_oidc_identity", "user.identity_link", f"kim-sub via {ISSUER} linked to kim")]
    assert bearer(idp.token(sub="kim-sub")).post("/api/projects", {"name": "x"}, format="json").status_code == 201
    with pytest.raises(CommandError, match="already exists"):
        call_command("link_oidc_identity", "--issuer", ISSUER, "--subject", "kim-sub", "--username", "kim")
    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("link_oidc_identity", "--issuer", ISSUER, "--subject", "x", "--username", "nobody")
    assert OidcIdentity.objects.count() == 1
    assert AuditEvent.objects.filter(action="user.identity_link").count() == 1  # the refused link wrote nothing


def test_a_local_user_holding_an_identitys_username_is_never_that_identity(idp: JwksServer, tenant, settings):
    # given: a local account made (outside the username validator) with the name an identity would get
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    squatter = User.objects.create(username=oidc_username(ISSUER, "zed"))
    Membership.objects.create(user=squatter, tenant=tenant, role="admin")
    mark = Mark(tenant)
    # when
    r = bearer(idp.token(sub="zed", maestro_tenant="default", maestro_role="operator")).post(
        "/api/projects", {"name": "x"}, format="json")
    # then
    assert_error(r, 401, "UNAUTHORIZED", "Invalid bearer token")
    assert OidcIdentity.objects.count() == 0
    mark.assert_nothing_written()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_of_an_identity_share_one_user(idp: JwksServer, tenant, settings):
    # given: a new identity whose first requests all arrive at once
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    token = idp.token(sub="nina", maestro_tenant="default", maestro_role="operator")
    assert _granted(idp, "k1") == 200  # the key set is fetched (by another identity's token)
    start = threading.Barrier(8)
    codes: list[int] = []

    def first_request(n: int) -> None:
        try:
            start.wait(10)
            codes.append(bearer(token).post("/api/projects", {"name": f"p{n}"}, format="json").status_code)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=first_request, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    close_pooled_connections()
    # then
    assert codes == [201] * 8
    identities = list(OidcIdentity.objects.filter(subject="nina").values_list("user__username", flat=True))
    assert identities == [oidc_username(ISSUER, "nina")]
    assert User.objects.filter(username__startswith="oidc:").count() == 2  # nina's and henry's
