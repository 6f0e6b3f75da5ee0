from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseForbidden
from django.middleware.clickjacking import XFrameOptionsMiddleware as DjangoXFrameOptionsMiddleware
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware
from django.utils.deprecation import MiddlewareMixin
from whitenoise.middleware import WhiteNoiseMiddleware

from maestro import body_limit
from maestro.api.errors import error_response, exception_to_response
from maestro.core.context import bound_request_id, request_id_from

# Paths whose clients expect JSON, never an HTML error page.
API_PREFIXES = ("/api/", "/health", "/readyz", "/healthz", "/metrics")

def carries_credentials(request: HttpRequest) -> bool:
    """An API call that authenticates itself (``Authorization``: an API token or a JWT): the
    API's authenticators decide who it is, and no session, CSRF cookie, message store or
    frame policy concerns it. Browsers (cookie sessions, the admin, the pages) send none."""
    return "HTTP_AUTHORIZATION" in request.META and is_api_path(request.path)


# The next handler Django gives a middleware: a coroutine function when the chain runs async.
Handler = Callable[[HttpRequest], "HttpResponse | Awaitable[HttpResponse]"]


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES) or path == "/api"


class _DualMiddleware:
    """Sync and async capable. Under ASGI Django runs the chain async down to the view, which
    then takes one thread hop; a sync-only middleware in the chain would add two more per
    request (into a thread and back onto the event loop), and the way back waits for a busy
    loop. Subclasses implement ``before`` (a response ends the request there) and ``after``."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        response = self.before(request)
        if response is None:
            response = cast(HttpResponse, self.get_response(request))  # a sync chain
        return self.after(request, response)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        response = self.before(request)
        if response is None:
            response = await cast("Awaitable[HttpResponse]", self.get_response(request))  # an async chain
        return self.after(request, response)

    def before(self, request: HttpRequest) -> HttpResponse | None:
        return None

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        return response


class RequestIdMiddleware(_DualMiddleware):
    """Takes ``X-Request-ID`` from the request (when well-formed) or makes one; it is bound for
    the request's duration so logs, audit rows, ledger entries and jobs carry it."""

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        with bound_request_id(self._request_id(request)):
            response = cast(HttpResponse, self.get_response(request))  # a sync chain
        return self.after(request, response)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        with bound_request_id(self._request_id(request)):
            response = await cast("Awaitable[HttpResponse]", self.get_response(request))  # an async chain
        return self.after(request, response)

    @staticmethod
    def _request_id(request: HttpRequest) -> str:
        request_id = request_id_from(request.META.get("HTTP_X_REQUEST_ID", ""))
        request.request_id = request_id  # type: ignore[attr-defined]
        return request_id

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        return response


class BodySizeLimitMiddleware(_DualMiddleware):
    """Refuses oversized bodies: a declared Content-Length before anything reads the body, and a
    body sent without one (chunked) by reading at most one byte past the limit. Under uvicorn
    :mod:`maestro.body_limit` has refused them before Django buffered anything; this is the
    same rule for every other way in (the test client, a WSGI server)."""

    def before(self, request: HttpRequest) -> HttpResponse | None:
        if body_limit.exempt(request.path):
            return None
        limit = settings.MAESTRO_MAX_BODY_BYTES
        refusal = body_limit.declared_refusal(request.META.get("CONTENT_LENGTH") or None, limit)
        if refusal is not None:
            return error_response(400, "VALIDATION_ERROR", *refusal)
        if "CONTENT_LENGTH" not in request.META and request.method in ("POST", "PUT", "PATCH"):
            data = request.read(limit + 1)
            if len(data) > limit:
                return error_response(400, "VALIDATION_ERROR", *body_limit.too_large(limit))
            # Hand the body on as if it had been declared, so every parser sees the same bytes.
            request._body = data
            request._stream = io.BytesIO(data)
            request._read_started = False  # type: ignore[attr-defined]  # HttpRequest's private state, not in the stubs
            request.META["CONTENT_LENGTH"] = str(len(data))
        return None


class StaticFilesMiddleware(_DualMiddleware, WhiteNoiseMiddleware):  # type: ignore[misc]  # whitenoise is untyped
    """WhiteNoise, async capable: its lookup of a static path is an in-memory dict read, and a
    file it serves is streamed by Django's response handling either way."""

    def __init__(self, get_response: Handler) -> None:
        WhiteNoiseMiddleware.__init__(self, get_response)
        _DualMiddleware.__init__(self, get_response)

    def before(self, request: HttpRequest) -> HttpResponse | None:
        path = request.path_info
        static_file = self.find_file(path) if self.autorefresh else self.files.get(path)
        return None if static_file is None else self.serve(static_file, request)


class ApiErrorMiddleware(_DualMiddleware):
    """No HTML error pages on API paths: Django's own 404/405/500 become the error envelope."""

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not is_api_path(request.path) or response.get("Content-Type", "").startswith("application/json"):
            return response
        if response.status_code == 404:
            return error_response(404, "NOT_FOUND", "Not found", {"path": request.path})
        if response.status_code == 405:
            return error_response(405, "METHOD_NOT_ALLOWED", f"Method {request.method} not allowed")
        if response.status_code >= 500:
            return error_response(500, "INTERNAL_ERROR", "Internal server error")
        if response.status_code == 400:
            return error_response(400, "VALIDATION_ERROR", "Bad request")
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_api_path(request.path):
            return exception_to_response(exception)
        return None


class _BrowserOnly(MiddlewareMixin):
    """Runs a browser's middleware (``super()``) for every request but an API call carrying its
    own credentials, which goes straight on: those are the hot path of agents and dashboards
    polling, and none of this middleware does anything for them."""

    def __call__(self, request: HttpRequest) -> Any:
        if carries_credentials(request):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_BrowserOnly, DjangoSessionMiddleware):
    pass


class CsrfViewMiddleware(_BrowserOnly, DjangoCsrfViewMiddleware):
    def process_view(self, request: HttpRequest, callback: Callable[..., HttpResponseBase],
                     callback_args: tuple[Any, ...], callback_kwargs: dict[str, Any]) -> HttpResponseForbidden | None:
        # The API's views are CSRF-exempt (DRF checks CSRF itself, for session authentication).
        if carries_credentials(request):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class AuthenticationMiddleware(_BrowserOnly, DjangoAuthenticationMiddleware):
    pass


class MessageMiddleware(_BrowserOnly, DjangoMessageMiddleware):
    pass


class XFrameOptionsMiddleware(_BrowserOnly, DjangoXFrameOptionsMiddleware):
    pass
