"""Tenants, memberships and API tokens. Writes go through :func:`maestro.write_path.service`
so that issuing a token is audited and ledgered like any other change."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.roles import Role
from maestro.tenancy.models import DEFAULT_TENANT_SLUG, ApiToken, Membership, Tenant
from maestro.write_path import record, service


def tenant_get_or_create(*, slug: str, name: str | None = None) -> Tenant:
    tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": name or slug})
    return tenant


def default_tenant() -> Tenant:
    return tenant_get_or_create(slug=DEFAULT_TENANT_SLUG, name="Default")


def tenant_save(*, tenant: Tenant, actor: Actor) -> Tenant:
    """Creates or renames a tenant (the admin's form), audited in the tenant itself."""
    creating = tenant.pk is None
    with service():
        tenant.full_clean()
        tenant.save()
        record(tenant=tenant, actor=actor, action="tenant.create" if creating else "tenant.update",
               resource_type="tenant", resource_id=tenant.slug, details=f"tenant {tenant.slug} ({tenant.name})")
    return tenant


def membership_set(*, user: AbstractBaseUser, tenant: Tenant, role: str, actor: Actor) -> Membership:
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}")
    with service():
        membership, _ = Membership.objects.update_or_create(user=user, tenant=tenant, defaults={"role": role})
        record(tenant=tenant, actor=actor, action="membership.set", resource_type="membership",
               resource_id=str(membership.pk), details=f"{user} is {role} in {tenant.slug}")
    return membership


def membership_delete(*, membership: Membership, actor: Actor) -> None:
    """Removes a user from a tenant; the user's open WebSockets in it are closed (their
    tokens for the tenant stop authenticating, as membership is checked on every request)."""
    from realtime.broadcast import access_changed_on_commit

    with service():
        deleted, _ = Membership.objects.filter(pk=membership.pk).delete()
        if deleted:
            record(tenant=membership.tenant, actor=actor, action="membership.delete", resource_type="membership",
                   resource_id=str(membership.pk),
                   details=f"{membership.user} removed from {membership.tenant.slug} (was {membership.role})")
            access_changed_on_commit(membership.tenant_id, user_id=membership.user_id)


def api_token_create(*, user: AbstractBaseUser, tenant: Tenant, name: str = "", actor: Actor) -> tuple[ApiToken, str]:
    """Returns the token row and the raw token, which is shown once and never stored."""
    from maestro.tenancy.models import hash_token

    raw = ApiToken.generate()
    with service():
        token = ApiToken(user=user, tenant=tenant, name=name, key_prefix=raw[:12], key_hash=hash_token(raw))
        token.full_clean()
        token.save()
        record(tenant=tenant, actor=actor, action="api_token.create", resource_type="api_token",
               resource_id=str(token.pk), details=f"token {token.key_prefix}… for {user}")
    return token, raw


def api_token_revoke(*, token: ApiToken, actor: Actor) -> ApiToken:
    """Revokes the token; WebSockets it opened are closed once the revocation commits."""
    from realtime.broadcast import access_changed_on_commit

    with service():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        token.refresh_from_db()
        if revoked:
            record(tenant=token.tenant, actor=actor, action="api_token.revoke", resource_type="api_token",
                   resource_id=str(token.pk), details=f"token {token.key_prefix}… revoked")
            access_changed_on_commit(token.tenant_id, token_id=token.pk)
    return token


def user_with_token(*, username: str, tenant_slug: str, role: str, actor: Actor,
                    token_name: str = "") -> str:
    """create_api_token: creates the user, tenant and membership when missing; returns the raw token."""
    User = get_user_model()
    with transaction.atomic():
        tenant = Tenant.objects.filter(slug=tenant_slug).first() or tenant_save(
            tenant=Tenant(slug=tenant_slug, name=tenant_slug), actor=actor)
        user, _ = User.objects.get_or_create(username=username)
        membership_set(user=user, tenant=tenant, role=role, actor=actor)
        _, raw = api_token_create(user=user, tenant=tenant, name=token_name, actor=actor)
    return raw
