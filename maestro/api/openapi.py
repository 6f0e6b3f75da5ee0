"""OpenAPI descriptions of Maestro's authenticators (drf-spectacular finds extensions by import)."""

from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from types import UnionType
from typing import (
    Annotated,
    Any,
    Literal,
    NotRequired,
    Required,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

from django.conf import settings
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
        response: Any = None, paged: bool = False, filters: Any = None, ordered: bool = False,
        parameters: list[OpenApiParameter] | None = None, errors: tuple[int, ...] = (),
        others: dict[int, Any] | None = None) -> Callable[[F], F]:
    """OpenAPI for a Maestro APIView handler: the body serializer and the answer — a serializer
    that describes the shape when there is one, else a JSON object (or array). Every error answer
    is the one envelope, declared for each status the handler can answer (:func:`error_statuses`).
    A PUT is a partial update (the old server's), so its body is the PATCH body. A ``paged`` list
    takes ``limit`` and ``cursor``; ``filters`` adds its FilterSet's parameters, ``ordered``
    ``order``, ``parameters`` any others. ``errors`` adds error statuses of this handler alone,
    ``others`` its other answers ({status: response}); a ``response`` of {media type: schema} is
    an answer in several media types."""
    parameters = [*(LIST_PARAMETERS if paged else ()), *(parameters or [])]
    if ordered:
        parameters.append(OpenApiParameter("order", str, enum=["asc", "desc", "ASC", "DESC"],
                                            description="sort direction"))
    if filters is not None:
        parameters += [filter_parameter(name, f) for name, f in filters.base_filters.items()]

    def decorate(handler: F) -> F:
        method = handler.__name__
        body_in = request(partial=True) if method == "put" and isinstance(request, type) else request
        answers: dict[Any, Any] = {code: _answer(answer, many)
                                   for code, answer in {status: response, **(others or {})}.items()}
        if isinstance(response, dict) and all("/" in key for key in response):
            answers = {(status, media): schema for media, schema in response.items()}
        refusals = {(code, "application/json"): ErrorOut for code in [*error_statuses(method), *errors]}
        decorator: Callable[[F], F] = extend_schema(
            request=body_in, parameters=parameters or None, operation_id=op, responses={**answers, **refusals})
        return decorator(handler)

    return decorate


def _answer(response: Any, many: bool) -> Any:
    """An answer's schema: a representation's TypedDict, a serializer, a schema, else any JSON object."""
    if is_typeddict(response):
        return {"type": "array", "items": shape(response)} if many else shape(response)
    if response is not None:
        return response(many=many) if isinstance(response, type) else response
    return {"type": "array", "items": {"type": "object"}} if many else OpenApiTypes.OBJECT


def error_statuses(method: str) -> list[int]:
    """The error statuses a handler can answer: any request may be malformed (400), carry no or
    a bad credential (401), lack the role (403) or name what is not there (404); a write may be
    refused by the object's state (409) or a stale If-Match (412); a POST may reuse an
    Idempotency-Key for another request (422)."""
    codes = [400, 401, 403, 404]
    if method in ("post", "put", "patch", "delete"):
        codes += [409, 412]
    if method == "post":
        codes.append(422)
    return codes


def filter_parameter(name: str, query_filter: Any) -> OpenApiParameter:
    """A FilterSet's parameter: the values it takes, as far as the filter says (a choice's
    values and aliases, an integer's minimum), else a string."""
    schema: dict[str, Any] = {"type": "string"}
    if getattr(query_filter, "choices", None) is not None:
        schema["enum"] = [*query_filter.choices, *getattr(query_filter, "aliases", {})]
    elif getattr(query_filter, "minimum", None) is not None:
        schema = {"type": "integer", "minimum": query_filter.minimum}
    return OpenApiParameter(name, schema, description=str(query_filter.extra.get("help_text") or ""))


# Response shapes declared as TypedDicts by the representation functions that build them: the
# operations refer to them, and add_shapes() puts them (and the TypedDicts they nest) in the
# document's components.
_SHAPES: dict[str, Any] = {}


def shape(typed_dict: Any) -> dict[str, str]:
    """A reference to a representation's TypedDict, published as a component of that name."""
    name = typed_dict.__name__
    if _SHAPES.setdefault(name, typed_dict) is not typed_dict:
        raise ValueError(f"two response shapes are called {name}")
    return {"$ref": f"#/components/schemas/{name}"}


_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def json_schema(hint: Any) -> dict[str, Any]:
    """The JSON schema (OpenAPI 3.0) of a representation's type: a nested TypedDict is a
    reference to its own component; in ``Annotated``, a string is the description and an Enum
    (a model's ``TextChoices``) the allowed values; ``X | None`` is nullable."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        out = json_schema(args[0])
        for meta in args[1:]:
            if isinstance(meta, str):
                out["description"] = meta
            elif isinstance(meta, type) and issubclass(meta, Enum):
                out["enum"] = [member.value for member in meta]
        return out
    if origin in (NotRequired, Required):
        return json_schema(args[0])
    if origin in (Union, UnionType):
        present = [a for a in args if a is not type(None)]
        out = json_schema(present[0]) if len(present) == 1 else {"oneOf": [json_schema(a) for a in present]}
        if len(present) < len(args):
            out = {"allOf": [out], "nullable": True} if "$ref" in out else {**out, "nullable": True}
        return out
    if origin is Literal:
        return {"type": _SCALARS[type(args[0])], "enum": list(args)}
    if is_typeddict(hint):
        return shape(hint)
    if origin in (list, tuple, Sequence):
        return {"type": "array", "items": json_schema(args[0]) if args else {}}
    if origin in (dict, Mapping):
        return {"type": "object", "additionalProperties": json_schema(args[1]) if args else {}}
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    if hint in (dict, Mapping):
        return {"type": "object", "additionalProperties": {}}
    if hint is Any or hint is object:
        return {"nullable": True}  # anything, null included (OpenAPI 3.0 needs saying so)
    raise TypeError(f"no JSON schema for {hint!r}: describe it in maestro.api.openapi.json_schema")


def _component(typed_dict: Any) -> dict[str, Any]:
    hints = get_type_hints(typed_dict, include_extras=True)
    out: dict[str, Any] = {"type": "object", "properties": {k: json_schema(v) for k, v in hints.items()},
                           "required": sorted(typed_dict.__required_keys__)}
    if typed_dict.__doc__ and typed_dict.__doc__ is not dict.__doc__:
        out["description"] = " ".join(typed_dict.__doc__.split())
    return out


def add_shapes(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: each referenced TypedDict, and every TypedDict
    those reference, as a JSON schema component."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    done: set[str] = set()
    while pending := sorted(set(_SHAPES) - done):
        for name in pending:  # a component's properties may register the TypedDicts they nest
            schemas[name] = _component(_SHAPES[name])
            done.add(name)
    result["components"]["schemas"] = dict(sorted(schemas.items()))
    return result


LIMIT = OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": settings.MAESTRO_LIST_MAX_LIMIT},
                         description="page size (default 500, at most 5000)")
LIST_PARAMETERS = (
    LIMIT,
    OpenApiParameter("cursor", str, description='where to go on: from the Link rel="next" of the previous page'),
)


class ErrorOut(serializers.Serializer[Any]):
    error = serializers.BooleanField(help_text="always true")
    code = serializers.CharField(help_text="VALIDATION_ERROR, UNAUTHORIZED, FORBIDDEN, <ENTITY>_NOT_FOUND, …")
    message = serializers.CharField()
    details = serializers.DictField()
