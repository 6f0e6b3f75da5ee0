"""First single sign-ins racing on PostgreSQL: the callbacks of one person opened in several
tabs, and several new people whose groups name a tenant nobody has created yet."""

from __future__ import annotations

import pytest

from maestro.core.roles import Role
from maestro.tenancy.models import Membership, OidcIdentity, Tenant
from maestro.tenancy.services import SsoPolicy, sso_sign_in
from maestro.write_path.models import AuditEvent
from tests.support.race import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ISSUER = "https://idp.example.test"
POLICY = SsoPolicy.parse("ops=fresh:operator")


def test_one_person_signing_in_from_several_tabs_at_once_is_one_user_with_one_membership():
    results = race(lambda i: sso_sign_in(issuer=ISSUER, subject="tabs", groups=["ops"], policy=POLICY), 6)

    assert [status for status, _ in results] == ["ok"] * 6, results
    identity = OidcIdentity.objects.get()
    assert {user.pk for _, user in results} == {identity.user_id}
    assert list(Membership.objects.values_list("user_id", "tenant__slug", "role")) == [
        (identity.user_id, "fresh", Role.OPERATOR)]
    assert Tenant.objects.filter(slug="fresh").count() == 1
    assert AuditEvent.objects.filter(action="user.sign_in").count() == 6


def test_new_people_whose_groups_name_a_new_tenant_at_once_all_get_in():
    results = race(lambda i: sso_sign_in(issuer=ISSUER, subject=f"person-{i}", groups=["ops"], policy=POLICY), 6)

    assert [status for status, _ in results] == ["ok"] * 6, results
    assert Tenant.objects.filter(slug="fresh").count() == 1
    assert Membership.objects.filter(tenant__slug="fresh", role=Role.OPERATOR).count() == 6
    assert OidcIdentity.objects.count() == 6
