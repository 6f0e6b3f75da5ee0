"""Tenants, memberships and API tokens. Writes go through the write path, so that issuing a
token is audited and ledgered like any other change; a change of access closes the WebSockets
it concerns (maestro.write_path.services.access_changed)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import Unauthenticated
from maestro.core.roles import Role, parse_group_roles
from maestro.tenancy.credential_cache import credentials_changed
from maestro.tenancy.models import (
    DEFAULT_TENANT_SLUG,
    ApiToken,
    Membership,
    OidcIdentity,
    Tenant,
    hash_token,
    oidc_username,
)
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
        credentials_changed()  # an update sends no signal: wait for every web process here
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


def oidc_identity_link(*, issuer: str, subject: str, user: User, actor: Actor) -> OidcIdentity:
    """Links an identity to an existing user (an operator's decision: the user's memberships
    then decide what the identity's tokens may do), audited in each tenant the user is a member
    of (the default tenant when none)."""
    identity = OidcIdentity(issuer=issuer, subject=subject, user=user)
    with service():
        identity.full_clean()
        identity.save()
        tenant_ids = list(Membership.objects.filter(user=user).order_by("tenant_id")
                          .values_list("tenant_id", flat=True))
        for tenant_id in tenant_ids or [default_tenant().pk]:
            Change(tenant_id=tenant_id, actor=actor, action=Action.USER_IDENTITY_LINK, resource_type=Resource.USER,
                   resource_id=str(user.pk)).record(details=f"{subject} via {issuer} linked to {user.username}"[:2000])
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


@dataclass(frozen=True)
class SsoPolicy:
    """What a sign-in's groups give (``MAESTRO_SSO_*``): ``group_roles`` maps a group to
    (tenant slug, role); the tenants it names are managed by the provider (a membership there
    that no group gives any more is removed); staff and superuser groups open the admin."""

    group_roles: Mapping[str, tuple[str, str]]
    staff_groups: frozenset[str] = frozenset()
    superuser_groups: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, group_roles: str, *, staff_groups: Iterable[str] = (),
              superuser_groups: Iterable[str] = ()) -> SsoPolicy:
        """``group=tenant:role`` pairs, comma-separated; ValueError on an unknown role."""
        return cls(group_roles=parse_group_roles(group_roles), staff_groups=frozenset(staff_groups),
                   superuser_groups=frozenset(superuser_groups))

    def roles(self, groups: Iterable[str]) -> dict[str, str]:
        """The role in each managed tenant the groups give: the highest when several do."""
        wanted: dict[str, str] = {}
        for group in groups:
            if group in self.group_roles:
                tenant, role = self.group_roles[group]
                if Role.rank(role) > Role.rank(wanted.get(tenant, "")):
                    wanted[tenant] = role
        return wanted


def sso_actor(*, user: User, issuer: str, subject: str) -> Actor:
    """A person signed in through the provider, named by subject and issuer."""
    return Actor(name=f"{subject} via {issuer}"[:150], actor_type="user", user_id=user.pk)


def _memberships_sync(*, user: User, wanted: dict[str, str], managed: set[str], actor: Actor) -> None:
    current = {m.tenant.slug: m for m in Membership.objects.select_related("tenant").filter(user=user)}
    for slug in sorted(managed):
        membership, role = current.get(slug), wanted.get(slug)
        if role is None:
            if membership is not None:
                membership_delete(membership=membership, actor=actor)
        elif membership is None or membership.role != role:
            tenant = Tenant.objects.filter(slug=slug).first() or _tenant_created(slug=slug, actor=actor)
            membership_set(user=user, tenant=tenant, role=role, actor=actor)


def _tenant_created(*, slug: str, actor: Actor) -> Tenant:
    """A tenant the provider names for the first time; when another sign-in created it in the
    meantime, that one (in a savepoint, so the sign-in's transaction goes on)."""
    try:
        with transaction.atomic():
            return tenant_save(tenant=Tenant(slug=slug, name=slug), actor=actor)
    except (IntegrityError, ValidationError):
        existing = Tenant.objects.filter(slug=slug).first()
        if existing is None:
            raise
        return existing


def user_sign_in(*, user: User, actor: Actor, how: str) -> None:
    """Audits a sign-in in every tenant the user is a member of."""
    with service():
        for membership in Membership.objects.filter(user=user).order_by("tenant_id"):
            Change(tenant_id=membership.tenant_id, actor=actor, action=Action.USER_SIGN_IN, resource_type=Resource.USER,
                   resource_id=str(user.pk)).record(details=f"{actor.name} signed in ({how}) as {membership.role}")


def user_sign_out(*, user: User, actor: Actor, how: str) -> None:
    """Audits a sign-out in every tenant the user is a member of."""
    with service():
        for membership in Membership.objects.filter(user=user).order_by("tenant_id"):
            Change(tenant_id=membership.tenant_id, actor=actor, action=Action.USER_SIGN_OUT,
                   resource_type=Resource.USER, resource_id=str(user.pk)).record(
                details=f"{actor.name} signed out ({how})")


def sso_sign_in(*, issuer: str, subject: str, groups: Iterable[str], policy: SsoPolicy,
                claimed_roles: Mapping[str, str] | None = None, email: str = "", name: str = "") -> User:
    """The user linked to (issuer, subject) — created and linked at the first sign-in, never
    found by a username or e-mail — with its memberships in the provider's tenants, and its
    admin access, set from ``groups`` as ``policy`` says and from ``claimed_roles`` (the roles
    claim, when one is configured: then the provider manages every membership of the user);
    the highest role wins where both name a tenant; the e-mail address and name the provider
    gives are kept for display (never for finding the user); the sign-in audited."""
    if not subject or not issuer or len(subject) > 255 or len(issuer) > 500:
        raise Unauthenticated("The identity provider named no subject")
    groups = set(groups)
    with service():
        linked = OidcIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
        user = linked.user if linked is not None else oidc_identity_provision(
            user=get_user_model()(username=oidc_username(issuer, subject)), issuer=issuer, subject=subject)
        if not user.is_active:
            raise Unauthenticated("This account is deactivated")
        actor = sso_actor(user=user, issuer=issuer, subject=subject)
        user.is_superuser = bool(groups & policy.superuser_groups)
        user.is_staff = user.is_superuser or bool(groups & policy.staff_groups)
        user.email, user.first_name = email[:254], name[:150]
        user.save(update_fields=["is_staff", "is_superuser", "email", "first_name"])
        wanted = policy.roles(groups)
        managed = {tenant for tenant, _ in policy.group_roles.values()}
        if claimed_roles is not None:
            for slug, role in claimed_roles.items():
                if Role.rank(role) > Role.rank(wanted.get(slug, "")):
                    wanted[slug] = role
            managed |= set(claimed_roles) | set(Membership.objects.filter(user=user).values_list(
                "tenant__slug", flat=True))
        _memberships_sync(user=user, wanted=wanted, managed=managed, actor=actor)
        user_sign_in(user=user, actor=actor, how=f"single sign-on, groups: {', '.join(sorted(groups)) or 'none'}")
    return user
