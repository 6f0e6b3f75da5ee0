"""OpenAPI descriptions of Maestro's authenticators (drf-spectacular finds extensions by import)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
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


def doc(request: Any = None, *, status: int = 200, many: bool = False, op: str | None = None,
        response: Any = None) -> Any:
    """OpenAPI for a Maestro APIView: the body serializer and the answer — a serializer that
    describes the shape when there is one, else a JSON object (or array). Every error answer
    is the one envelope, so it is declared once for all of them."""
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import extend_schema

    if response is not None:
        body = response(many=many) if isinstance(response, type) else response
    else:
        body = {"type": "array", "items": {"type": "object"}} if many else OpenApiTypes.OBJECT
    return extend_schema(request=request, responses={status: body, (400, "application/json"): ErrorOut,
                                                     (404, "application/json"): ErrorOut},
                         operation_id=op)


class ErrorOut(serializers.Serializer):
    error = serializers.BooleanField(default=True)
    code = serializers.CharField(help_text="VALIDATION_ERROR, UNAUTHORIZED, FORBIDDEN, <ENTITY>_NOT_FOUND, …")
    message = serializers.CharField()
    details = serializers.DictField()
