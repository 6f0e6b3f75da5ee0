"""Tenancy admin edits go through the tenancy services: audited, ledgered, and (for lost
access) announced to the tenant's open connections."""

import pytest
from django.test import Client

from ledger.models import IntakeEntry
from maestro.core.actors import Actor
from maestro.tenancy.models import ApiToken, Membership, OidcIdentity, Tenant, oidc_username
from maestro.tenancy.services import oidc_identity_link
from maestro.write_path.models import AuditEvent
from tests.factories import make_token

pytestmark = pytest.mark.django_db




def _inline(prefix: str, rows: list[dict], initial: int) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": len(rows), f"{prefix}-INITIAL_FORMS": initial}
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    return data


def test_admin_create_tenant_with_a_member_is_audited(staff, django_user_model):
    # given
    ada = django_user_model.objects.create(username="ada")
    # when
    r = staff.post("/admin/tenancy/tenant/add/", {
        "slug": "acme", "name": "Acme",
        **_inline("memberships", [{"user": ada.pk, "role": "operator"}], 0)})
    # then
    assert r.status_code == 302, r.content[:3000]
    acme = Tenant.objects.get(slug="acme")
    assert Membership.objects.get(tenant=acme, user=ada).role == "operator"
    assert list(AuditEvent.objects.filter(tenant=acme).order_by("id").values_list("action", "actor")) == [
        ("tenant.create", "root"), ("membership.set", "root")]
    assert IntakeEntry.objects.filter(tenant=acme, action_type__in=["tenant.create", "membership.set"]).count() == 2


def test_admin_inline_removes_and_changes_members_through_services(staff, tenant, django_user_model):
    # given: two members
    ada = django_user_model.objects.create(username="ada")
    bob = django_user_model.objects.create(username="bob")
    m_ada = Membership.objects.create(user=ada, tenant=tenant, role="viewer")
    m_bob = Membership.objects.create(user=bob, tenant=tenant, role="viewer")
    # when: ada becomes admin, bob is removed
    r = staff.post(f"/admin/tenancy/tenant/{tenant.pk}/change/", {
        "name": "Default", **_inline("memberships", [
            {"id": m_ada.pk, "user": ada.pk, "role": "admin", "tenant": tenant.pk},
            {"id": m_bob.pk, "user": bob.pk, "role": "viewer", "tenant": tenant.pk, "DELETE": "on"}], 2)})
    # then
    assert r.status_code == 302, r.content[:3000]
    assert list(Membership.objects.filter(tenant=tenant).values_list("user__username", "role")) == [("ada", "admin")]
    actions = list(AuditEvent.objects.filter(tenant=tenant, resource_type="membership").order_by("id")
                   .values_list("action", "resource"))
    assert actions == [("membership.delete", str(m_bob.pk)), ("membership.set", str(m_ada.pk))]
    # the tenant's own fields did not change: no tenant.update is recorded for it
    assert not AuditEvent.objects.filter(action="tenant.update").exists()


def test_admin_cannot_delete_a_tenant(staff, tenant):
    # when
    r = staff.post(f"/admin/tenancy/tenant/{tenant.pk}/delete/", {"post": "yes"})
    # then
    assert r.status_code == 403
    assert Tenant.objects.filter(pk=tenant.pk).exists()


def test_admin_membership_delete_action_is_audited_and_the_token_stops_working(staff, tenant):
    # given
    raw = make_token(username="rita", tenant=tenant, role="operator")
    membership = Membership.objects.get(user__username="rita")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/projects").status_code == 200
    # when
    r = staff.post("/admin/tenancy/membership/", {
        "action": "delete_selected", "_selected_action": [membership.pk], "post": "yes"})
    # then
    assert r.status_code == 302, r.content[:3000]
    assert not Membership.objects.filter(pk=membership.pk).exists()
    audit = AuditEvent.objects.get(action="membership.delete")
    assert (audit.actor, audit.resource, audit.status) == ("root", str(membership.pk), "allowed")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/projects").status_code == 403


def test_admin_revoke_action_reports_and_is_idempotent(staff, tenant):
    # given
    make_token(username="rita", tenant=tenant, role="operator")
    token = ApiToken.objects.get(user__username="rita")
    # when: revoked twice
    for _ in range(2):
        r = staff.post("/admin/tenancy/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
        assert r.status_code == 302
    # then: one revocation, one audit row
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="api_token.revoke", resource=str(token.pk)).count() == 1


def test_tenancy_admin_pages_render(staff, tenant):
    make_token(username="rita", tenant=tenant, role="operator")
    for path in ["/admin/tenancy/tenant/", f"/admin/tenancy/tenant/{tenant.pk}/change/", "/admin/tenancy/tenant/add/",
                 "/admin/tenancy/membership/", "/admin/tenancy/apitoken/"]:
        r = staff.get(path)
        assert r.status_code == 200, path
    assert b"rita" in staff.get(f"/admin/tenancy/tenant/{tenant.pk}/change/").content  # the members inline


def test_admin_shows_who_an_identitys_user_is_and_edits_nothing(staff, django_user_model):
    # given
    user = django_user_model.objects.create(username=oidc_username("https://idp.example.test", "sub-42"))
    identity = oidc_identity_link(issuer="https://idp.example.test", subject="sub-42", user=user,
                                  actor=Actor.system("test"))
    # when
    listing = staff.get("/admin/tenancy/oidcidentity/?q=sub-42")
    change = staff.post(f"/admin/tenancy/oidcidentity/{identity.pk}/change/", {"subject": "someone-else"})
    # then
    assert listing.status_code == 200
    assert b"sub-42" in listing.content and b"https://idp.example.test" in listing.content
    assert change.status_code == 403
    assert OidcIdentity.objects.get().subject == "sub-42"
