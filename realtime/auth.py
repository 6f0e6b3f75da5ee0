"""WebSocket authentication, the same rules as HTTP: API token or OIDC JWT (``Authorization``
header or ``?token=``), the Django session cookie, or in dev the loopback local operator."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from rest_framework import exceptions

from maestro.exceptions import MaestroError
from maestro.tenancy.access import Access, resolve_access


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin1").lower(): v.decode("latin1") for k, v in scope.get("headers", [])}


class _Req:
    """The slice of a request the DRF authenticators read."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.META = meta


@database_sync_to_async
def authenticate_scope(scope: dict[str, Any]) -> Access | None:
    from maestro.auth import (
        DevLoopback,
        OidcJwtAuthentication,
        ApiTokenAuthentication,
        is_loopback,
        local_operator,
    )

    headers = _headers(scope)
    query = parse_qs(scope.get("query_string", b"").decode())
    meta: dict[str, Any] = {}
    if "authorization" in headers:
        meta["HTTP_AUTHORIZATION"] = headers["authorization"]
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
                found = backend.authenticate(_Req(meta))  # type: ignore[arg-type]
                if found:
                    user, auth = found
                    break
        else:
            session_user = scope.get("user")
            if session_user is not None and session_user.is_authenticated:
                user, auth = session_user, "session"
            elif settings.MAESTRO_DEV_LOOPBACK_AUTH:
                client = scope.get("client") or (None, None)
                if is_loopback(client[0]):
                    user, auth = local_operator(), DevLoopback()
        if user is None:
            return None
        return resolve_access(user, None if auth == "session" else auth, meta)
    except (exceptions.AuthenticationFailed, MaestroError):
        return None
