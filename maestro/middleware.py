from __future__ import annotations

import io
import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from maestro.context import new_request_id, request_id_var
from maestro.exceptions import error_response, exception_to_response

# 64: the width of the request_id columns of audit rows and events it is stored in.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Paths whose clients expect JSON, never an HTML error page.
API_PREFIXES = ("/api/", "/health", "/readyz", "/healthz")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES) or path == "/api"


class RequestIdMiddleware:
    """Takes ``X-Request-ID`` from the request (when well-formed) or makes one; it is bound for
    the request's duration so logs, audit rows, ledger entries and jobs carry it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class BodySizeLimitMiddleware:
    """Refuses oversized bodies: a declared Content-Length before anything reads the body, and a
    body sent without one (chunked) by reading at most one byte past the limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(400, "VALIDATION_ERROR", "Invalid Content-Length")
        limit = settings.MAESTRO_MAX_BODY_BYTES
        if request.path.startswith("/admin/"):
            return self.get_response(request)
        if length > limit:
            return error_response(400, "VALIDATION_ERROR", "Request body too large",
                                  {"maxBytes": limit, "contentLength": length})
        if "CONTENT_LENGTH" not in request.META and request.method in ("POST", "PUT", "PATCH"):
            data = request.read(limit + 1)
            if len(data) > limit:
                return error_response(400, "VALIDATION_ERROR", "Request body too large", {"maxBytes": limit})
            # Hand the body on as if it had been declared, so every parser sees the same bytes.
            request._body = data  # type: ignore[attr-defined]
            request._stream = io.BytesIO(data)  # type: ignore[attr-defined]
            request._read_started = False  # type: ignore[attr-defined]
            request.META["CONTENT_LENGTH"] = str(len(data))
        return self.get_response(request)


class ApiErrorMiddleware:
    """No HTML error pages on API paths: Django's own 404/405/500 become the error envelope."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
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
