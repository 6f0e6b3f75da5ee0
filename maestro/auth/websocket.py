"""WebSocket handshake authentication (the consumer in :mod:`realtime.consumers` is given
:func:`authenticate_handshake` by ``maestro.asgi``), the same rules as HTTP: an API token or
OIDC JWT, the Django session cookie, or in dev the loopback local operator.

Where a token may travel, first found wins: the ``Authorization: Bearer`` header (non-browser
clients), a ``maestro.token.<token>`` subprotocol (browsers, which cannot set headers on a
WebSocket: ``new WebSocket(url, ["maestro.v1", "maestro.token." + token])``; the server's
answer selects ``maestro.v1`` only, never the token), or ``?token=`` (the old clients; a URL is
logged by every proxy on the way, so new clients keep tokens out of it — Maestro's own logs
redact it, :mod:`maestro.logging`).

Origin policy, per credential rather than per connection: a browser attaches the session
cookie (and, in dev, the loopback identity) to a WebSocket opened by *any* page, and the
same-origin policy does not protect WebSockets, so those two count only when the ``Origin``
is absent (not a browser), the page's own origin (same host as ``Host``), or listed in
``CSRF_TRUSTED_ORIGINS`` — the check Django's CSRF middleware makes for unsafe requests. The
loopback identity additionally needs a loopback origin (a DNS-rebound page has the same
``Host`` as its origin). An explicit token proves itself, so it is accepted from any origin
and from non-browser clients that send no ``Origin`` at all (which channels'
``AllowedHostsOriginValidator`` would refuse unless ``ALLOWED_HOSTS`` contains ``*``).
"""

from __future__ import annotations

import ipaddress
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.utils.http import is_same_domain
from rest_framework import exceptions

from maestro.auth.backends import ApiTokenAuthentication, OidcJwtAuthentication, is_loopback, local_operator
from maestro.core.exceptions import Forbidden, MaestroError
from maestro.tenancy.access import access_granted, resolve_access
from maestro.tenancy.credentials import DevLoopback
from maestro.tenancy.models import ApiToken
from realtime.consumers import CLOSE_FORBIDDEN, Handshake, StreamGrant, scope_query

TOKEN_SUBPROTOCOL_PREFIX = "maestro.token."


def subprotocol_token(scope: dict[str, Any]) -> str | None:
    """The token a client offered as the subprotocol ``maestro.token.<token>``, if any (an
    empty one counts as offered, and fails)."""
    for offered in scope.get("subprotocols") or ():
        if offered.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            return str(offered[len(TOKEN_SUBPROTOCOL_PREFIX):])
    return None


def scope_headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin1").lower(): v.decode("latin1") for k, v in scope.get("headers", [])}


class _Req:
    """The slice of a request the DRF authenticators read."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.META = meta


def session_user(cookie_header: str) -> Any:
    """The user of the Django session named by the cookie, checked the way HTTP requests
    are (django.contrib.auth.get_user verifies the session hash), or None."""
    key = parse_cookie(cookie_header).get(settings.SESSION_COOKIE_NAME)
    if not key:
        return None
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    user = get_user(request)
    return user if user.is_authenticated else None


def origin_trusted_for_cookies(origin: str | None, host: str | None) -> bool:
    if origin is None:
        return True  # browsers always send Origin on a WebSocket handshake
    parts = urlsplit(origin)
    if not parts.scheme or not parts.netloc:
        return False  # "null": sandboxed frames, file:// pages
    netloc = parts.netloc.lower()
    if host and netloc == host.lower():
        return True
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        t = urlsplit(trusted)
        if t.scheme != parts.scheme:
            continue
        if "*" in t.netloc:
            if is_same_domain(netloc, t.netloc.lstrip("*")):
                return True
        elif netloc == t.netloc.lower():
            return True
    return False


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin_trusted_for_loopback(origin: str | None) -> bool:
    return origin is None or _is_loopback(urlsplit(origin).hostname)


@database_sync_to_async  # type: ignore[untyped-decorator]  # channels ships no type information
def authenticate_handshake(scope: dict[str, Any]) -> Handshake:
    headers = scope_headers(scope)
    query = scope_query(scope)
    origin = headers.get("origin")
    meta: dict[str, Any] = {}
    offered = subprotocol_token(scope)
    if "authorization" in headers:
        meta["HTTP_AUTHORIZATION"] = headers["authorization"]
    elif offered is not None:
        meta["HTTP_AUTHORIZATION"] = f"Bearer {offered}"
    elif query.get("token"):
        meta["HTTP_AUTHORIZATION"] = f"Bearer {query['token'][0]}"
    if "x-maestro-tenant" in headers:
        meta["HTTP_X_MAESTRO_TENANT"] = headers["x-maestro-tenant"]
    elif query.get("tenant"):
        meta["HTTP_X_MAESTRO_TENANT"] = query["tenant"][0]
    user: Any = None
    auth: Any = None
    try:
        if "HTTP_AUTHORIZATION" in meta:
            for backend in (ApiTokenAuthentication(), OidcJwtAuthentication()):
                found = backend.authenticate(_Req(meta))  # type: ignore[arg-type]  # they read only META
                if found:
                    user, auth = found
                    break
        else:
            if "cookie" in headers and origin_trusted_for_cookies(origin, headers.get("host")):
                user = session_user(headers["cookie"])
                auth = "session" if user is not None else None
            if user is None and settings.MAESTRO_DEV_LOOPBACK_AUTH and origin_trusted_for_loopback(origin):
                client = scope.get("client") or (None, None)
                if is_loopback(client[0]):
                    user, auth = local_operator(), DevLoopback()
        if user is None:
            return Handshake(None)
        access, user = access_granted(resolve_access(user, None if auth == "session" else auth, meta), user, auth)
        return Handshake(StreamGrant(tenant_id=access.tenant.pk, tenant_slug=access.tenant.slug, role=access.role,
                                     actor=access.actor.name, user_id=user.pk,
                                     token_id=auth.pk if isinstance(auth, ApiToken) else None))
    except exceptions.AuthenticationFailed:
        return Handshake(None)
    except Forbidden:
        return Handshake(None, CLOSE_FORBIDDEN)
    except MaestroError:
        return Handshake(None)
