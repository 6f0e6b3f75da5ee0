"""Authentication: Maestro API tokens (stored hashed), OIDC JWTs (validated against the
configured JWKS), the Django session, and — in dev only — the loopback local operator."""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from maestro.core.roles import Role
from maestro.tenancy.credentials import DevLoopback, OidcClaims
from maestro.tenancy.models import ApiToken, Membership, hash_token
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


def user_for_api_token(raw: str) -> tuple[User, ApiToken] | None:
    """The token's user and the token, which carries ``member_role`` (the user's role in the
    token's tenant, None when not a member), read in the same query."""
    role = Membership.objects.filter(user=OuterRef("user_id"), tenant=OuterRef("tenant_id")).values("role")[:1]
    token = (ApiToken.objects.select_related("user", "tenant").annotate(member_role=Subquery(role))
             .filter(key_hash=hash_token(raw), revoked_at__isnull=True).first())
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    # Touch at most once a minute: a write per request would make reads contend.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
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


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300)


def decode_oidc_jwt(raw: str) -> dict[str, Any]:
    key = _jwks_client(settings.OIDC_JWKS_URL).get_signing_key_from_jwt(raw)
    return jwt.decode(
        raw, key.key, algorithms=["RS256", "ES256", "EdDSA"],
        audience=settings.OIDC_AUDIENCE or None, issuer=settings.OIDC_ISSUER or None,
        options={"require": ["exp", "sub"], "verify_aud": bool(settings.OIDC_AUDIENCE)},
    )


class OidcJwtAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        raw = bearer_token(request)
        if raw is None or raw.startswith(ApiToken.PREFIX):
            return None
        if not settings.OIDC_JWKS_URL:
            raise exceptions.AuthenticationFailed("Invalid bearer token")
        try:
            claims = decode_oidc_jwt(raw)
        except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
            raise exceptions.AuthenticationFailed(f"Invalid token: {exc}") from None
        username = str(claims.get("preferred_username") or claims["sub"])[:150]
        user, _ = get_user_model().objects.get_or_create(username=username)
        return user, OidcClaims(subject=str(claims["sub"]), tenant=claims.get(settings.OIDC_TENANT_CLAIM),
                                role=claims.get(settings.OIDC_ROLE_CLAIM))

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
