"""Maps every exception an API path can raise to the one error envelope (DESIGN §4)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from maestro.core.exceptions import MaestroError, error_body

log = logging.getLogger("maestro.api")


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
        return 429, "RATE_LIMITED", str(exc.detail), {"retryAfter": getattr(exc, "wait", None)}
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
    response = error_response(*mapped)
    if mapped[0] == 401:
        response["WWW-Authenticate"] = 'Bearer realm="maestro"'
    return response
