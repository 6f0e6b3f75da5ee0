"""The hot reads of one object — ``GET /api/tasks/{id}``, ``/api/sessions/{id}``,
``/api/projects/{id}``, polled by agents and dashboards far more than anything is written —
served for an API token without DRF's per-request machinery (its Request wrapper, content
negotiation, four authenticators, permission and finalize steps were a fifth of a task read's
CPU; docs/decisions.md 74).

Only the plain case takes this path: a GET with no query string, an ``Accept`` that JSON
satisfies, a Maestro API token that is valid, of a member holding the view's read role, and an
object that exists. It runs the very functions the DRF path runs (the token read, the tenant
and role resolution, the view's ``read_one`` and ``present``, the ETag check) and answers the
same bytes and headers. Everything else — no or another credential, a refusal, a missing
object, a HEAD, ``?format=`` — goes to the DRF view, which answers it in the error envelope as
before; a read has no side effect to repeat. The middleware chain (request id, metrics,
security headers) wraps both alike. ``MAESTRO_LEAN_READS=0`` sends every request to DRF."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.renderers import JSONRenderer

from maestro.api.views import MaestroAPIView, etag_matches
from maestro.auth.backends import bearer_token, user_for_api_token
from maestro.core.exceptions import MaestroError
from maestro.core.roles import Role
from maestro.tenancy.access import resolve_access
from maestro.tenancy.models import ApiToken

# What DRF's JSON renderer is chosen for, as clients send it (curl, requests, fetch; or nothing).
JSON_ACCEPTS = frozenset({"", "*/*", "application/json"})
_RENDERER = JSONRenderer()


def lean_read_view(view_class: type[MaestroAPIView]) -> Callable[..., HttpResponse]:
    """``view_class.as_view()``, with its token-authenticated plain GETs answered here. The
    result carries the DRF view's attributes (``cls``, ``csrf_exempt``…), so URL resolution,
    metrics and the OpenAPI schema see the same view."""
    drf_view = view_class.as_view()
    assert view_class.read_one is not None, f"{view_class.__name__} has no read_one"
    role = getattr(view_class, "read_role", Role.VIEWER)
    allow = _allow(view_class)

    @functools.wraps(drf_view)
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        response = _answer(request, kwargs, view_class, role, allow) if settings.MAESTRO_LEAN_READS else None
        return response if response is not None else drf_view(request, **kwargs)

    return view


def _allow(view_class: type[MaestroAPIView]) -> str:
    """The Allow header DRF sets: the view's methods, HEAD with GET (as Django's setup adds it)."""
    instance = view_class()
    instance.setup(HttpRequest())
    return ", ".join(instance.allowed_methods)


def _answer(request: HttpRequest, kwargs: dict[str, Any], view_class: type[MaestroAPIView], role: str,
            allow: str) -> HttpResponse | None:
    meta = request.META
    if request.method != "GET" or meta.get("QUERY_STRING") or meta.get("HTTP_ACCEPT", "") not in JSON_ACCEPTS \
            or "\x00" in request.path:
        return None
    try:  # as ApiTokenAuthentication reads it; DRF answers a malformed header
        raw = bearer_token(request)
    except AuthenticationFailed:
        return None
    if raw is None or not raw.startswith(ApiToken.PREFIX):
        return None
    found = user_for_api_token(raw)
    if found is None:
        return None
    user, token = found
    try:
        access = resolve_access(user, token, meta)
        if not access.allows(role):
            return None
        read_one = view_class.read_one  # looked up per request: a subclass or a test may replace it
        if read_one is None:
            return None
        obj = read_one(tenant=access.tenant, **kwargs)
    except MaestroError:
        return None
    request.user = user
    request.access = access  # type: ignore[attr-defined]
    version = getattr(obj, "version", None)
    if version is not None and etag_matches(request, version):
        response = HttpResponse(status=304)
        del response["Content-Type"]  # as DRF answers an empty body
    else:
        response = HttpResponse(_RENDERER.render(view_class.present(obj)), content_type="application/json")
    if version is not None:
        response["ETag"] = f'"{version}"'
    response["Allow"] = allow
    return response
