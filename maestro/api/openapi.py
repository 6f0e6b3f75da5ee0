"""OpenAPI descriptions of Maestro's authenticators (drf-spectacular finds extensions by import)."""

from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "maestro.auth.backends.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "http", "scheme": "bearer", "description": "Maestro API token (`mae_…`)"}


class OidcScheme(OpenApiAuthenticationExtension):
    target_class = "maestro.auth.backends.OidcJwtAuthentication"
    name = "oidcJwt"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "OIDC access token validated against MAESTRO_OIDC_JWKS_URL"}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "maestro.auth.backends.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class DevLoopbackScheme(OpenApiAuthenticationExtension):
    target_class = "maestro.auth.backends.DevLoopbackAuthentication"
    name = "devLoopback"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "apiKey", "in": "header", "name": "X-Maestro-Dev-Loopback",
                "description": "MAESTRO_ENV=dev only: unauthenticated loopback requests act as the local operator"}


F = TypeVar("F", bound=Callable[..., Any])


def doc(request: Any = None, *, status: int = 200, many: bool = False, op: str | None = None,
        response: Any = None, filters: Any = None, ordered: bool = False) -> Callable[[F], F]:
    """OpenAPI for a Maestro APIView: the body serializer and the answer — a serializer that
    describes the shape when there is one, else a JSON object (or array). Every error answer
    is the one envelope, so it is declared once for all of them. A list (``many``) takes
    ``limit`` and ``cursor``, its FilterSet's parameters (``filters``), and ``order`` when
    ``ordered``."""
    if response is not None:
        body = response(many=many) if isinstance(response, type) else response
    else:
        body = {"type": "array", "items": {"type": "object"}} if many else OpenApiTypes.OBJECT
    parameters = list(LIST_PARAMETERS) if many else []
    if ordered:
        parameters.append(OpenApiParameter("order", str, enum=["asc", "desc"], description="sort direction"))
    if filters is not None:
        parameters += [OpenApiParameter(name, str, description=str(f.extra.get("help_text") or ""))
                       for name, f in filters.base_filters.items()]
    decorator: Callable[[F], F] = extend_schema(
        request=request, parameters=parameters or None, operation_id=op,
        responses={status: body, (400, "application/json"): ErrorOut, (404, "application/json"): ErrorOut})
    return decorator


LIST_PARAMETERS = (
    OpenApiParameter("limit", int, description="page size (default 500, at most 5000)"),
    OpenApiParameter("cursor", str, description='where to go on: from the Link rel="next" of the previous page'),
)


class ErrorOut(serializers.Serializer):
    error = serializers.BooleanField(default=True)
    code = serializers.CharField(help_text="VALIDATION_ERROR, UNAUTHORIZED, FORBIDDEN, <ENTITY>_NOT_FOUND, …")
    message = serializers.CharField()
    details = serializers.DictField()
