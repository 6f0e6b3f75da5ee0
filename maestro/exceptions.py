"""One error shape for every API path:
``{"error": true, "code": "TASK_NOT_FOUND", "message": "Task not found", "details": {...}}``."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

log = logging.getLogger("maestro.api")


class MaestroError(Exception):
    status_code = 400
    code = "VALIDATION_ERROR"
    message = "Invalid request"

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 details: dict[str, Any] | None = None, status_code: int | None = None) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or {}
        if status_code is not None:
            self.status_code = status_code
        super().__init__(self.message)


class ValidationFailed(MaestroError):
    pass


class NotFound(MaestroError):
    status_code = 404

    def __init__(self, entity: str, entity_id: str | None = None, **kw: Any) -> None:
        details = {"id": entity_id} if entity_id is not None else {}
        super().__init__(f"{entity.replace('_', ' ').capitalize()} not found",
                         code=f"{entity.upper()}_NOT_FOUND", details=details, **kw)


class Unauthorized(MaestroError):
    status_code = 401
    code = "UNAUTHORIZED"
    message = "Authentication required"


class Forbidden(MaestroError):
    status_code = 403
    code = "FORBIDDEN"
    message = "You do not have permission to perform this action"


class Conflict(MaestroError):
    status_code = 409
    code = "CONFLICT"
    message = "Conflict"


class PreconditionFailed(MaestroError):
    status_code = 412
    code = "PRECONDITION_FAILED"
    message = "The resource was changed by someone else (stale If-Match)"


class ProjectHasDependencies(MaestroError):
    code = "PROJECT_HAS_DEPENDENCIES"
    message = "Project has tasks or sessions and cannot be deleted"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": True, "code": code, "message": message, "details": details or {}}


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status)


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = _first_message(value)
            # "name is required" already names its field; old clients match on that exact text.
            if key in ("non_field_errors", "detail") or inner.startswith(f"{key} "):
                return inner
            return f"{key}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _map(exc: Exception) -> tuple[int, str, str, dict[str, Any]] | None:
    if isinstance(exc, MaestroError):
        return exc.status_code, exc.code, exc.message, exc.details
    if isinstance(exc, drf.ValidationError):
        return 400, "VALIDATION_ERROR", _first_message(exc.detail), {"fields": exc.detail}
    if isinstance(exc, DjangoValidationError):
        # A model's full_clean() refusing what the API's own validation let through.
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return 400, "VALIDATION_ERROR", _first_message(fields), {"fields": fields}
    if isinstance(exc, drf.ParseError):
        return 400, "VALIDATION_ERROR", f"Malformed JSON: {exc.detail}", {}
    if isinstance(exc, RequestDataTooBig):
        return 400, "VALIDATION_ERROR", "Request body too large", {}
    if isinstance(exc, drf.UnsupportedMediaType):
        return 400, "VALIDATION_ERROR", "Request body must be JSON (Content-Type: application/json)", {}
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        return 401, "UNAUTHORIZED", str(exc.detail), {}
    if isinstance(exc, (drf.PermissionDenied, DjangoPermissionDenied)):
        detail = getattr(exc, "detail", None) or "You do not have permission to perform this action"
        return 403, "FORBIDDEN", str(detail), {}
    if isinstance(exc, (drf.NotFound, Http404)):
        return 404, "NOT_FOUND", "Not found", {}
    if isinstance(exc, drf.MethodNotAllowed):
        return 405, "METHOD_NOT_ALLOWED", str(exc.detail), {}
    if isinstance(exc, drf.Throttled):
        return 429, "RATE_LIMITED", str(exc.detail), {"retryAfter": exc.wait}
    if isinstance(exc, drf.APIException):
        return exc.status_code, "VALIDATION_ERROR" if exc.status_code < 500 else "INTERNAL_ERROR", str(exc.detail), {}
    return None


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    mapped = _map(exc)
    if mapped is None:
        log.exception("unhandled API error", extra={"event": "api.unhandled_error"})
        mapped = 500, "INTERNAL_ERROR", "Internal server error", {}
    status, code, message, details = mapped
    response = Response(error_body(code, message, details), status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="maestro"'
    return response


def exception_to_response(exc: Exception) -> JsonResponse:
    """For exceptions raised outside DRF (middleware, plain Django views)."""
    mapped = _map(exc)
    if mapped is None:
        log.exception("unhandled error", extra={"event": "api.unhandled_error"})
        mapped = 500, "INTERNAL_ERROR", "Internal server error", {}
    return error_response(*mapped)
