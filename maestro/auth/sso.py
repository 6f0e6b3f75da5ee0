"""Single sign-on for people (the admin and the dashboard at ``/``): the authorization
code flow with PKCE against the organisation's OpenID provider, through Authlib's Django
client, which keeps ``state``, ``nonce`` and the PKCE verifier in the session and checks them.
The person is linked by (issuer, subject) and given memberships from the groups claim and the
roles claim (:func:`maestro.tenancy.services.sso_sign_in`). Logout ends the Maestro session, then the
provider's where its discovery document names an ``end_session_endpoint``."""

from __future__ import annotations

import functools
import logging
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.base_client import OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import login, logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from joserfc.errors import JoseError

from maestro.core.actors import Actor
from maestro.core.exceptions import MaestroError
from maestro.core.roles import parse_role_claim
from maestro.tenancy.services import SsoPolicy, sso_actor, sso_sign_in, user_sign_in, user_sign_out

log = logging.getLogger(__name__)

CLIENT_NAME = "maestro_sso"
NEXT_KEY = "maestro_sso_next"
ID_TOKEN_KEY = "maestro_sso_id_token"  # kept for the provider's logout (id_token_hint)
DEFAULT_NEXT = "/"  # the operators' dashboard
REFUSED = "Sign-in refused. Start again from the sign-in page."
UNREACHABLE = "The identity provider cannot be reached. Try again later."


def sso_enabled() -> bool:
    return bool(settings.SSO_ISSUER and settings.SSO_CLIENT_ID)


@functools.lru_cache(maxsize=4)
def _client(issuer: str, client_id: str, client_secret: str, scopes: str) -> Any:
    oauth = OAuth()
    return oauth.register(
        name=CLIENT_NAME, client_id=client_id, client_secret=client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": scopes, "code_challenge_method": "S256", "timeout": 10},
    )


def sso_client() -> Any:
    if not sso_enabled():
        raise Http404("single sign-on is not configured")
    return _client(settings.SSO_ISSUER, settings.SSO_CLIENT_ID, settings.SSO_CLIENT_SECRET, settings.SSO_SCOPES)


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """``candidate`` when it is a path or URL of this site, else the dashboard."""
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return DEFAULT_NEXT


def _public_url(path: str) -> str:
    return settings.MAESTRO_PUBLIC_URL.rstrip("/") + path


@require_GET
def sso_login(request: HttpRequest) -> HttpResponse:
    client = sso_client()
    request.session[NEXT_KEY] = safe_next(request, request.GET.get("next"))
    try:
        response: HttpResponse = client.authorize_redirect(request, _public_url(reverse("sso-callback")))
    except (OAuthError, OSError) as exc:  # requests' errors are OSErrors: the provider is down or refuses discovery
        return _unreachable(exc)
    return response


def _unreachable(exc: Exception) -> HttpResponse:
    log.warning("identity provider unreachable", extra={"event": "sso.unreachable", "error": type(exc).__name__})
    return HttpResponse(UNREACHABLE, status=502, content_type="text/plain")


def _refused(reason: str, exc: Exception | None = None) -> HttpResponse:
    error = getattr(exc, "error", None) or (type(exc).__name__ if exc else "")
    # e.g. "Invalid claim: 'nonce'", or what is wrong with the roles claim
    detail = str(getattr(exc, "description", "") or (exc if isinstance(exc, ValueError) else ""))[:200]
    log.warning("single sign-on refused", extra={"event": "sso.refused", "reason": reason, "error": error,
                                                  "detail": detail})
    return HttpResponseForbidden(REFUSED, content_type="text/plain")


@require_GET
def sso_callback(request: HttpRequest) -> HttpResponse:
    client = sso_client()
    try:
        token = client.authorize_access_token(request)
    except (OAuthError, JoseError) as exc:  # wrong state, replayed code, nonce or signature mismatch
        return _refused("token", exc)
    except OSError as exc:
        return _unreachable(exc)
    claims = token.get("userinfo") or {}
    if claims.get("iss") != settings.SSO_ISSUER:  # Authlib checks it against discovery; discovery must be ours
        return _refused("issuer")
    groups = claims.get(settings.SSO_GROUPS_CLAIM) or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        return _refused("groups")
    claimed_roles = None
    if settings.SSO_ROLES_CLAIM:
        try:
            claimed_roles = parse_role_claim(claims.get(settings.SSO_ROLES_CLAIM, []))
        except ValueError as exc:
            return _refused("roles", exc)
    policy = SsoPolicy.parse(settings.SSO_GROUP_ROLES, staff_groups=settings.SSO_STAFF_GROUPS,
                             superuser_groups=settings.SSO_SUPERUSER_GROUPS)
    try:
        user = sso_sign_in(issuer=str(claims.get("iss", "")), subject=str(claims.get("sub", "")),
                           groups=groups, policy=policy, claimed_roles=claimed_roles,
                           email=_text_claim(claims, "email"), name=_text_claim(claims, "name"))
    except MaestroError as exc:
        return _refused("user", exc)
    next_url = request.session.pop(NEXT_KEY, DEFAULT_NEXT)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")  # a new session key
    request.session[ID_TOKEN_KEY] = token.get("id_token", "")
    return HttpResponseRedirect(safe_next(request, next_url))


def _text_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    return value.strip() if isinstance(value, str) else ""


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's login page, with the single sign-on button; a posted password is refused
    when local login is switched off (``MAESTRO_LOCAL_LOGIN=false``)."""
    if request.method == "POST" and not settings.MAESTRO_LOCAL_LOGIN:
        return HttpResponseForbidden("Password sign-in is switched off: use single sign-on.",
                                     content_type="text/plain")
    context = {"local_login": settings.MAESTRO_LOCAL_LOGIN, "sso_enabled": sso_enabled(),
               "sso_provider_name": settings.SSO_PROVIDER_NAME,
               "sso_login_url": reverse("sso-login") + "?" + urlencode(
                   {"next": safe_next(request, request.GET.get("next"))})}
    was_anonymous = not request.user.is_authenticated
    response = admin.site.login(request, extra_context=context)
    if request.method == "POST" and was_anonymous and request.user.is_authenticated:
        user = request.user
        user_sign_in(user=user, actor=Actor.for_user(user, via_api=False), how="password")
    return response


@require_POST
def admin_logout(request: HttpRequest) -> HttpResponse:
    return sign_out(request, back=reverse("admin:login"))


def sign_out(request: HttpRequest, *, back: str) -> HttpResponse:
    """Ends the Maestro session, then (for a single sign-on session, when the provider offers
    RP-initiated logout) the provider's, which sends the browser back to ``back`` (a path)."""
    id_token = request.session.get(ID_TOKEN_KEY, "")
    user = request.user
    if user.is_authenticated:
        identity = getattr(user, "oidc_identity", None) if id_token else None
        actor = (sso_actor(user=user, issuer=identity.issuer, subject=identity.subject)
                 if identity is not None else Actor.for_user(user, via_api=False))
        user_sign_out(user=user, actor=actor, how="single sign-on" if id_token else "password")
    logout(request)
    if id_token and sso_enabled():
        client = sso_client()
        try:
            metadata = client.load_server_metadata()
        except (OAuthError, OSError) as exc:
            log.warning("provider logout skipped", extra={"event": "sso.logout_skipped", "error": type(exc).__name__})
            metadata = {}
        if metadata.get("end_session_endpoint"):
            return HttpResponseRedirect(metadata["end_session_endpoint"] + "?" + urlencode(
                {"id_token_hint": id_token, "post_logout_redirect_uri": _public_url(back)}))
    return HttpResponseRedirect(back)
