"""Which tenant a request acts in, and with which role. Decided once per request, before
the view runs, so no list, detail or bulk path can reach another tenant's rows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from maestro.core.actors import Actor
from maestro.core.exceptions import Forbidden
from maestro.core.roles import Role
from maestro.tenancy.credentials import DevLoopback, OidcClaims
from maestro.tenancy.models import DEFAULT_TENANT_SLUG, ApiToken, Membership, Tenant
from maestro.tenancy.services import default_tenant, oidc_identity_provision

TENANT_HEADER = "HTTP_X_MAESTRO_TENANT"


@dataclass(frozen=True)
class Access:
    tenant: Tenant
    role: str
    actor: Actor

    def allows(self, role: str) -> bool:
        return Role.rank(self.role) >= Role.rank(role)


def resolve_access(user: Any, auth: Any, meta: dict[str, Any]) -> Access:
    requested = (meta.get(TENANT_HEADER) or "").strip() or None
    if isinstance(auth, ApiToken):
        if requested and requested != auth.tenant.slug:
            raise Forbidden("This API token belongs to another tenant", details={"tenant": requested})
        tenant = auth.tenant
        if hasattr(auth, "member_role"):  # read with the token (maestro.auth.backends.user_for_api_token)
            role = _role_or_refuse(user, tenant, auth.member_role)
        else:
            role = _membership_role(user, tenant)
        return Access(tenant=tenant, role=role, actor=Actor.for_user(user, via_api=True))
    if isinstance(auth, OidcClaims):
        return _oidc_access(user, auth, requested)
    via_api = not isinstance(auth, DevLoopback) and auth is not None
    tenant = _tenant(requested) if requested else _home_tenant(user)
    role = Role.ADMIN if getattr(user, "is_superuser", False) else _membership_role(user, tenant)
    return Access(tenant=tenant, role=role, actor=Actor.for_user(user, via_api=via_api))


def _oidc_access(user: Any, auth: OidcClaims, requested: str | None) -> Access:
    """Claims grant a tenant and role only together, and only the tenant they name (and only
    when the issuer is trusted to: the authenticator leaves them out otherwise); any other
    tenant is the linked user's memberships. An identity with no user yet has none."""
    granted = auth.tenant if auth.tenant and auth.role in Role.values else None
    slug = requested or granted
    tenant = _tenant(slug) if slug else _home_tenant(user)
    if granted is not None and slug == granted:
        role = str(auth.role)
    elif user.pk is None:
        raise Forbidden("You are not a member of this tenant", details={"tenant": tenant.slug})
    else:
        role = _membership_role(user, tenant)
    return Access(tenant=tenant, role=role, actor=Actor.for_identity(user, issuer=auth.issuer, subject=auth.subject))


def access_granted(access: Access, user: Any, auth: Any) -> tuple[Access, Any]:
    """Called once the request is allowed: an identity's first allowed request stores its user
    (a refused one stores nothing). Returns the access and the stored user."""
    if not isinstance(auth, OidcClaims) or user.pk is not None:
        return access, user
    stored = oidc_identity_provision(user=user, issuer=auth.issuer, subject=auth.subject)
    return replace(access, actor=Actor.for_identity(stored, issuer=auth.issuer, subject=auth.subject)), stored


def _home_tenant(user: Any) -> Tenant:
    """The tenant of a request that names none: the user's only one, else the default."""
    memberships = list(Membership.objects.filter(user=user).select_related("tenant")[:2]) if user.pk else []
    return memberships[0].tenant if len(memberships) == 1 else _tenant(DEFAULT_TENANT_SLUG)


def _tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        if slug == DEFAULT_TENANT_SLUG:
            return default_tenant()
        raise Forbidden("Unknown tenant or no access to it", details={"tenant": slug})
    return tenant


def role_in(user: Any, tenant: Tenant) -> str:
    """``user``'s role in ``tenant`` without refusing ("" for no membership; superusers are
    admins everywhere): what the policies are told about a person in the admin, whose own gate
    is Django's model permissions, checked before any admin action runs."""
    if getattr(user, "is_superuser", False):
        return Role.ADMIN
    role = Membership.objects.filter(user_id=user.pk, tenant=tenant).values_list("role", flat=True).first()
    return role or ""


def _membership_role(user: Any, tenant: Tenant) -> str:
    role = Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()
    return _role_or_refuse(user, tenant, role)


def _role_or_refuse(user: Any, tenant: Tenant, role: str | None) -> str:
    if role is None:
        if getattr(user, "is_superuser", False):
            return Role.ADMIN
        raise Forbidden("You are not a member of this tenant", details={"tenant": tenant.slug})
    return role
