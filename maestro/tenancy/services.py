"""Tenants, memberships and API tokens. Writes go through the write path, so that issuing a
token is audited and ledgered like any other change; a change of access closes the WebSockets
it concerns (maestro.write_path.services.access_changed)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import Unauthenticated
from maestro.core.roles import Role
from maestro.tenancy.models import DEFAULT_TENANT_SLUG, ApiToken, Membership, OidcIdentity, Tenant, hash_token
from maestro.write_path.catalogue import Action, Resource
from maestro.write_path.services import Change, access_changed, service


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
        Change(tenant_id=tenant.pk, actor=actor, action=Action.TENANT_CREATE if creating else Action.TENANT_UPDATE,
               resource_type=Resource.TENANT, resource_id=tenant.slug).record(
            details=f"tenant {tenant.slug} ({tenant.name})")
    return tenant


def membership_set(*, user: User, tenant: Tenant, role: str, actor: Actor) -> Membership:
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}")
    with service():
        membership, _ = Membership.objects.update_or_create(user=user, tenant=tenant, defaults={"role": role})
        Change(tenant_id=tenant.pk, actor=actor, action=Action.MEMBERSHIP_SET, resource_type=Resource.MEMBERSHIP,
               resource_id=str(membership.pk)).record(details=f"{user} is {role} in {tenant.slug}")
    return membership


def membership_delete(*, membership: Membership, actor: Actor) -> None:
    """Removes a user from a tenant; the user's open WebSockets in it are closed (their
    tokens for the tenant stop authenticating, as membership is checked on every request)."""
    with service():
        deleted, _ = Membership.objects.filter(pk=membership.pk).delete()
        if deleted:
            Change(tenant_id=membership.tenant_id, actor=actor, action=Action.MEMBERSHIP_DELETE,
                   resource_type=Resource.MEMBERSHIP, resource_id=str(membership.pk)).record(
                details=f"{membership.user} removed from {membership.tenant.slug} (was {membership.role})")
            access_changed(tenant_id=membership.tenant_id, user_id=membership.user_id)


def api_token_create(*, user: User, tenant: Tenant, name: str = "", actor: Actor) -> tuple[ApiToken, str]:
    """Returns the token row and the raw token, which is shown once and never stored."""
    raw = ApiToken.generate()
    with service():
        token = ApiToken(user=user, tenant=tenant, name=name, key_prefix=raw[:12], key_hash=hash_token(raw))
        token.full_clean()
        token.save()
        Change(tenant_id=tenant.pk, actor=actor, action=Action.API_TOKEN_CREATE, resource_type=Resource.API_TOKEN,
               resource_id=str(token.pk)).record(details=f"token {token.key_prefix}… for {user}")
    return token, raw


def api_token_revoke(*, token: ApiToken, actor: Actor) -> ApiToken:
    """Revokes the token; WebSockets it opened are closed once the revocation commits."""
    with service():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        token.refresh_from_db()
        if revoked:
            Change(tenant_id=token.tenant_id, actor=actor, action=Action.API_TOKEN_REVOKE,
                   resource_type=Resource.API_TOKEN, resource_id=str(token.pk)).record(
                details=f"token {token.key_prefix}… revoked")
            access_changed(tenant_id=token.tenant_id, token_id=token.pk)
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


def oidc_identity_link(*, issuer: str, subject: str, user: User) -> OidcIdentity:
    """Links an identity to an existing user (an operator's decision: the user's memberships
    then decide what the identity's tokens may do)."""
    identity = OidcIdentity(issuer=issuer, subject=subject, user=user)
    with transaction.atomic():
        identity.full_clean()
        identity.save()
    return identity


def oidc_identity_provision(*, user: User, issuer: str, subject: str) -> User:
    """Stores ``user`` (built by the JWT authenticator, not yet saved) and links it to the
    identity, in one transaction: called only once the token's request has been allowed. When a
    concurrent first request linked the identity already, that request's user is returned."""
    try:
        with transaction.atomic():
            user.set_unusable_password()
            user.full_clean(exclude=["username"])  # oidc: usernames are outside the local alphabet on purpose
            user.save()
            OidcIdentity.objects.create(issuer=issuer, subject=subject, user=user)
    except IntegrityError:
        user.pk = None
        linked = OidcIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
        if linked is None or not linked.user.is_active:
            # The username is taken by an account that is not this identity's: never act as it.
            raise Unauthenticated("Invalid bearer token") from None
        return linked.user
    return user
