"""Authentication: Maestro API tokens (stored hashed), OIDC JWTs (validated against the
configured JWKS), the Django session, and — in dev only — the loopback local operator."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from maestro.auth.jwks import key_set
from maestro.core.compiled import CompiledRead
from maestro.core.roles import Role
from maestro.tenancy import credential_cache
from maestro.tenancy.credentials import DevLoopback, OidcClaims
from maestro.tenancy.models import ApiToken, Membership, OidcIdentity, hash_token, oidc_username
from maestro.tenancy.services import default_tenant

log = logging.getLogger(__name__)

LOCAL_OPERATOR_USERNAME = "local-operator"


def bearer_token(request: HttpRequest) -> str | None:
    header: str = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise exceptions.AuthenticationFailed("Malformed Authorization header (expected: Bearer <token>)")
    return value.strip()


def _token_query(key_hash: str) -> QuerySet[ApiToken]:
    role = Membership.objects.filter(user=OuterRef("user_id"), tenant=OuterRef("tenant_id")).values("role")[:1]
    return (ApiToken.objects.select_related("user", "tenant").annotate(member_role=Subquery(role))
            .filter(key_hash=key_hash, revoked_at__isnull=True)[:1])


# A token is read with one compiled query, and kept by the web process until PostgreSQL says a
# credential changed (credential_cache): a revoked token is refused by the next request on every
# process, since the revoking writer waits until each process has dropped what it read.
_TOKEN_READ: CompiledRead[ApiToken] = CompiledRead(_token_query, key_hash="\x01token-marker")


def user_for_api_token(raw: str) -> tuple[User, ApiToken] | None:
    """The token's user and the token, which carries ``member_role`` (the user's role in the
    token's tenant, None when not a member), read in the same query or kept from an earlier one."""
    key_hash = hash_token(raw)
    cache = credential_cache.active()
    token = cache.get(key_hash, settings.MAESTRO_TOKEN_CACHE_SECONDS) if cache is not None else None
    if token is None:
        generation = cache.generation() if cache is not None else 0
        found = _TOKEN_READ.rows(key_hash=key_hash)
        token = found[0] if found else None
        if token is None or not token.user.is_active:
            return None
        if cache is not None:
            cache.put(key_hash, generation, token)
    now = timezone.now()
    # Touch at most once a minute: a write per request would make reads contend.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        if cache is not None:
            cache.touched(key_hash, now)
    return token.user, token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        raw = bearer_token(request)
        if raw is None or not raw.startswith(ApiToken.PREFIX):
            return None
        found = user_for_api_token(raw)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token")
        return found

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="maestro"'


INVALID_BEARER = "Invalid bearer token"  # one answer for every refusal: nothing of the token or the cause
MAX_KID_CHARS = 256


def _refused(reason: str) -> exceptions.AuthenticationFailed:
    log.info("bearer token refused", extra={"event": "oidc.token_refused", "reason": reason})
    return exceptions.AuthenticationFailed(INVALID_BEARER)


def decode_oidc_jwt(raw: str) -> dict[str, Any]:
    """The token's claims once its signature (by a key of the configured JWKS, with the
    algorithm of that key and no other), issuer, audience and lifetime (with
    ``OIDC_LEEWAY_SECONDS`` of clock skew) are checked; AuthenticationFailed otherwise."""
    try:
        kid = jwt.get_unverified_header(raw).get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_CHARS:
            raise _refused("kid")
        key = key_set(settings.OIDC_JWKS_URL).key(kid)
        if key is None:
            raise _refused("unknown_kid")
        claims: dict[str, Any] = jwt.decode(
            raw, key.key, algorithms=[key.algorithm_name],
            audience=settings.OIDC_AUDIENCE or None, issuer=settings.OIDC_ISSUER or None,
            leeway=settings.OIDC_LEEWAY_SECONDS,
            options={"require": ["exp", "sub", "iss"], "verify_aud": bool(settings.OIDC_AUDIENCE)},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        # ValueError/TypeError: what the key libraries raise on input of the wrong shape.
        raise _refused(type(exc).__name__) from None
    return claims


def _claim(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value.strip() or None if isinstance(value, str) else None


def identity_claims(claims: dict[str, Any]) -> OidcClaims:
    """Who the token names, as (issuer, subject), and — only when the issuer is trusted to
    grant them (``OIDC_CLAIMS_GRANT_ACCESS``) — the tenant and role it grants."""
    subject, issuer = _claim(claims, "sub"), _claim(claims, "iss")
    if subject is None or issuer is None or len(subject) > 255 or len(issuer) > 500:
        raise _refused("identity")
    grants = bool(settings.OIDC_CLAIMS_GRANT_ACCESS)
    return OidcClaims(issuer=issuer, subject=subject,
                      tenant=_claim(claims, settings.OIDC_TENANT_CLAIM) if grants else None,
                      role=_claim(claims, settings.OIDC_ROLE_CLAIM) if grants else None)


def user_for_identity(identity: OidcClaims) -> User:
    """The user linked to the identity, or a new one not yet stored (it is stored only once
    the request is allowed: :func:`maestro.tenancy.access.access_granted`). Never a user found
    by a username claim."""
    linked = OidcIdentity.objects.select_related("user").filter(
        issuer=identity.issuer, subject=identity.subject).first()
    if linked is None:
        return get_user_model()(username=oidc_username(identity.issuer, identity.subject))
    if not linked.user.is_active:
        raise _refused("inactive_user")
    return linked.user


class OidcJwtAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        raw = bearer_token(request)
        if raw is None or raw.startswith(ApiToken.PREFIX):
            return None
        if not settings.OIDC_JWKS_URL:
            raise exceptions.AuthenticationFailed(INVALID_BEARER)
        identity = identity_claims(decode_oidc_jwt(raw))
        return user_for_identity(identity), identity

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="maestro"'


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser/admin session, with DRF's CSRF check on unsafe methods."""


def is_loopback(addr: str | None) -> bool:
    if not addr:
        return False
    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


class DevLoopbackAuthentication(authentication.BaseAuthentication):
    """MAESTRO_ENV=dev only: unauthenticated loopback requests act as the local operator of
    the default tenant, so the old system's credential-less local clients keep working."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        if not settings.MAESTRO_DEV_LOOPBACK_AUTH or request.META.get("HTTP_AUTHORIZATION"):
            return None
        if not is_loopback(request.META.get("REMOTE_ADDR")):
            return None
        return local_operator(), DevLoopback()


def local_operator() -> User:
    user, created = get_user_model().objects.get_or_create(username=LOCAL_OPERATOR_USERNAME)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Membership.objects.get_or_create(user=user, tenant=default_tenant(), defaults={"role": Role.OPERATOR})
    return user
