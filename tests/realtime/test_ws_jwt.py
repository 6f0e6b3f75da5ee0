"""The WebSocket handshake takes an identity provider's JWT by the same rules as the API
(tests/maestro/auth/test_oidc_jwt.py), against a real JWKS server and real keys: never a local
account, a tenant only where the claims are trusted to grant it, a removed key refused once the
set is refreshed, a deactivated user refused."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from maestro.core.actors import Actor
from maestro.tenancy.models import Membership, OidcIdentity
from maestro.tenancy.services import oidc_identity_link
from tests.realtime.conftest import communicator, connect, in_thread, refused_with
from tests.support.oidc import ISSUER, JwksServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("configured_layer")]

User = get_user_model()


def _usernames() -> list[str]:
    return sorted(User.objects.values_list("username", flat=True))


async def test_a_token_naming_a_local_admin_is_not_that_admin(idp: JwksServer, tenant, other_tenant):
    # given
    await in_thread(User.objects.create_superuser)(username="admin", password="pw-not-used-here-1234")
    token = idp.token(preferred_username="admin", sub="admin")
    # when
    code = await refused_with(communicator("/ws", token=token, headers=[("X-Maestro-Tenant", "other")]))
    # then
    assert code == 4403
    assert await in_thread(_usernames)() == ["admin"]


async def test_a_role_claim_without_a_tenant_claim_grants_no_tenant(idp: JwksServer, tenant, other_tenant, settings):
    # given
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    token = idp.token(sub="carol", maestro_role="admin")
    # when
    code = await refused_with(communicator("/ws", token=token, headers=[("X-Maestro-Tenant", "other")]))
    # then
    assert code == 4403
    assert await in_thread(_usernames)() == []


async def test_claims_grant_nothing_unless_the_issuer_is_trusted_to(idp: JwksServer, tenant, other_tenant):
    # given
    token = idp.token(sub="dave", maestro_tenant="other", maestro_role="admin")
    # when
    code = await refused_with(communicator("/ws", subprotocols=["maestro.v1", f"maestro.token.{token}"]))
    # then
    assert code == 4403
    assert await in_thread(_usernames)() == []


async def test_granted_claims_connect_as_a_user_of_the_identitys_own(idp: JwksServer, tenant, other_tenant,
                                                                     settings):
    # given
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    token = idp.token("e1", sub="olga", preferred_username="olga", maestro_tenant="other", maestro_role="operator")
    # when
    client = await connect("/ws", token=token)
    # then
    assert (client.hello["tenant"], client.hello["role"]) == ("other", "operator")
    identity = await in_thread(lambda: OidcIdentity.objects.select_related("user").get())()
    assert (identity.issuer, identity.subject, identity.user.username.startswith("oidc:")) == (ISSUER, "olga", True)
    await client.close()


async def test_a_key_removed_from_the_set_is_refused_once_the_set_is_refreshed(idp: JwksServer, tenant, settings):
    # given
    settings.OIDC_CLAIMS_GRANT_ACCESS = True
    claims = {"sub": "pete", "maestro_tenant": "default", "maestro_role": "viewer"}
    first = await connect("/ws", token=idp.token("k1", **claims))
    await first.close()
    idp.remove("k1")
    idp.add("k2")
    # when
    rotated = await connect("/ws", token=idp.token("k2", **claims))
    code = await refused_with(communicator("/ws", token=idp.token("k1", **claims)))
    # then
    assert rotated.hello["role"] == "viewer"
    assert code == 4401
    await rotated.close()


async def test_a_deactivated_users_token_is_refused(idp: JwksServer, tenant):
    # given
    def linked_user():  # type: ignore[no-untyped-def]
        user = User.objects.create(username="quinn", is_active=False)
        Membership.objects.create(user=user, tenant=tenant, role="operator")
        oidc_identity_link(issuer=ISSUER, subject="quinn-sub", user=user, actor=Actor.system("test"))

    await in_thread(linked_user)()
    # when
    code = await refused_with(communicator("/ws", token=idp.token(sub="quinn-sub")))
    # then
    assert code == 4401


async def test_an_alg_that_does_not_match_its_keys_type_is_refused(idp: JwksServer, tenant):
    # when
    code = await refused_with(communicator("/ws", token=idp.token("k1", signing_kid="e1", alg="ES256")))
    # then
    assert code == 4401
