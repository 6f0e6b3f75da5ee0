"""OpenAPI descriptions of Maestro's authenticators (drf-spectacular finds extensions by import)."""

from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers


def _scheme(target: str, name: str, definition: dict[str, Any]) -> type[OpenApiAuthenticationExtension]:
    """Describes one of Maestro's authenticators in the OpenAPI document (drf-spectacular finds
    extensions as they are created)."""
    return type(f"{name}Scheme", (OpenApiAuthenticationExtension,), {
        "target_class": target, "name": name, "get_security_definition": lambda self, auto_schema: definition})


SCHEMES = [
    _scheme("maestro.auth.backends.ApiTokenAuthentication", "apiToken",
            {"type": "http", "scheme": "bearer", "description": "Maestro API token (`mae_…`)"}),
    _scheme("maestro.auth.backends.OidcJwtAuthentication", "oidcJwt",
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
             "description": "OIDC access token validated against MAESTRO_OIDC_JWKS_URL"}),
    _scheme("maestro.auth.backends.SessionAuthentication", "cookieAuth",
            {"type": "apiKey", "in": "cookie", "name": "sessionid"}),
    _scheme("maestro.auth.backends.DevLoopbackAuthentication", "devLoopback",
            {"type": "apiKey", "in": "header", "name": "X-Maestro-Dev-Loopback",
             "description": "MAESTRO_ENV=dev only: unauthenticated loopback requests act as the local operator"}),
]


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


class ErrorOut(serializers.Serializer[Any]):
    error = serializers.BooleanField(default=True)
    code = serializers.CharField(help_text="VALIDATION_ERROR, UNAUTHORIZED, FORBIDDEN, <ENTITY>_NOT_FOUND, …")
    message = serializers.CharField()
    details = serializers.DictField()
