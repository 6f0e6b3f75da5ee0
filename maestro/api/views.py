"""The base of every Maestro API view: tenant and role resolved before the handler runs
(see :class:`maestro.auth.permissions.TenantRolePermission`), body validation into the one
error shape, ETag/If-Match helpers and keyset-paged list responses."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from maestro.api import idempotency
from maestro.api.filters import FilterSet, filtered
from maestro.api.paging import Order, next_link, page, parse_limit, parse_offset
from maestro.core.exceptions import MaestroError, PreconditionFailed, ValidationFailed

if TYPE_CHECKING:  # set on the request by maestro.auth.permissions; the toolkit itself stays below tenancy
    from maestro.tenancy.access import Access


WRITE_METHODS = ("post", "put", "patch", "delete")
REPLAYED_HEADERS = ("ETag", "Location")


def _write_unit(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Runs a write handler in one transaction with its answer: what the client is told is read
    before the commit, so a connection lost after the commit cannot turn a stored write into a
    500. A refusal is answered inside the transaction, which still commits what the write path
    recorded of it. A POST with an ``Idempotency-Key`` claims the key in the same transaction and
    stores its answer there; a retry gets that answer (``Idempotent-Replayed: true``)."""

    @functools.wraps(handler)
    def run(self: MaestroAPIView, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not self.write_unit or getattr(request, "_maestro_in_write_unit", False):
            return handler(self, request, *args, **kwargs)  # PUT calling PATCH: already inside
        request._maestro_in_write_unit = True  # type: ignore[attr-defined]
        key = request.headers.get("Idempotency-Key") \
            if request.method == "POST" and not self.idempotency_by_service else None
        with transaction.atomic():
            claim = None
            if key is not None:
                store = idempotency.store()
                request_print = idempotency.fingerprint(request.method or "POST", request.path, self.body())
                claim = store.claim(tenant_id=self.access.tenant.pk, key=key, fingerprint=request_print)
                if isinstance(claim, idempotency.Stored):
                    replay = Response(claim.body, status=claim.status_code, headers=claim.headers)
                    replay["Idempotent-Replayed"] = "true"
                    return replay
            try:
                response = handler(self, request, *args, **kwargs)
            except (MaestroError, APIException) as exc:
                response = self.handle_exception(exc)
            if claim is not None:
                if response.status_code < 400:
                    store.store(claim, status_code=response.status_code, body=response.data,
                                headers={h: response[h] for h in REPLAYED_HEADERS if h in response})
                else:
                    store.release(claim)
        return response

    run._maestro_write_unit = True  # type: ignore[attr-defined]
    return run


# No class docstring: drf-spectacular would publish it as the description of every operation.
class MaestroAPIView(APIView):
    # What a write refused by role is about (a catalogue resource, maestro.write_path.catalogue).
    resource_type = "api"
    # Write handlers run as one unit with their answer and honour Idempotency-Key on POST
    # (_write_unit); views whose writes keep their own transactions (the ledger's) turn it off.
    write_unit = True
    # The service itself honours Idempotency-Key (a run remembers its key, and a repeat answers
    # 200 with the first run, DESIGN §7.1): the generic replay of the first answer is off.
    idempotency_by_service = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in WRITE_METHODS:
            handler = cls.__dict__.get(name)
            if handler is not None and not getattr(handler, "_maestro_write_unit", False):
                setattr(cls, name, _write_unit(handler))
    # A view of one kind of object says how it is shown (``present = staticmethod(task_repr)``),
    # the order of its list, and the FilterSet of its list's query parameters, if any.
    present: Callable[[Any], Mapping[str, Any]]
    # A view of one object may name how it is read (``read_one(tenant=…, **url_kwargs)``: the
    # selector its own ``get`` answers with): its token-authenticated GETs can then be served
    # without DRF (maestro.auth.reads.lean_read_view).
    read_one: Callable[..., Any] | None = None
    order: Order
    filters: type[FilterSet] | None = None

    @property
    def access(self) -> Access:
        return self.request.access  # type: ignore[attr-defined, no-any-return]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # PostgreSQL refuses NUL in any string it is sent, so an id or filter carrying one would
        # fail deep in a query (or in the audit row of a denial); refuse it first, as bad input.
        params = [request.path, *request.query_params.keys(),
                  *(v for _, values in request.query_params.lists() for v in values)]
        if any("\x00" in value for value in params):
            raise ValidationFailed("Null characters are not allowed in the path or query")
        super().initial(request, *args, **kwargs)

    def body(self) -> Any:
        """The parsed request body (too deep a body is refused by the parser, maestro.api.parsers)."""
        return self.request.data

    def validated(self, serializer_class: type[serializers.Serializer[Any]], data: Any = None,
                  *, partial: bool = False, optional: bool = False) -> dict[str, Any]:
        """The body checked by ``serializer_class``; ``optional``: no body at all is ``{}`` (one
        that is sent must still be an object — JSON ``null`` is refused)."""
        if data is None:
            empty = self.request.META.get("CONTENT_LENGTH") in (None, "", "0")
            data = {} if optional and empty else self.body()
        if not isinstance(data, dict):
            raise ValidationFailed("Request body must be a JSON object")
        serializer = serializer_class(data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        # Update serializers declare no defaults, so only the keys the client sent come back:
        # a PATCH never resets what it did not mention.
        return dict(serializer.validated_data)

    def paged(self, request: Request, qs: QuerySet[Any], *, order: Order,
              present: Callable[[Any], Any] | None = None, present_all: Callable[[list[Any]], list[Any]] | None = None,
              filters: type[FilterSet] | None = None, default_limit: int | None = None,
              offset: bool = False) -> Response:
        """A list answer: ``qs`` narrowed by the ``filters`` FilterSet, one keyset page of it in
        ``order``, each row shown by ``present`` (or the page by ``present_all``, for shapes read
        per page); ``Link: rel="next"`` when there is more. ``offset`` allows the old runs API's
        ``?offset=`` (without a cursor)."""
        if filters is not None:
            qs = filtered(filters, request, qs)
        params = request.query_params
        result = page(qs, order=order, limit=parse_limit(params.get("limit"), default=default_limit),
                      cursor=params.get("cursor"), offset=parse_offset(params.get("offset")) if offset else 0)
        if present_all is not None:
            body = present_all(result.items)
        else:
            assert present is not None
            body = [present(item) for item in result.items]
        response = Response(body)
        if result.next_cursor:
            response["Link"] = next_link(request, cursor=result.next_cursor)
        return response


    def expected_version(self, data: dict[str, Any]) -> int | None:
        """The version a write was based on: If-Match, else a ``version`` in the body (old
        clients cannot always set headers). Pops ``version`` from ``data``."""
        header = if_match_version(self.request)
        body = data.pop("version", None)
        return header if header is not None else body

    def listed(self, qs: QuerySet[Any]) -> Response:
        """``qs`` as this view's list: filtered, paged in its order, each row presented."""
        return self.paged(self.request, qs, order=self.order, present=self.present, filters=self.filters)

    def answer(self, obj: Any, *, status: int = 200) -> Response:
        """The object in its API shape; a versioned object's version is the answer's ETag, for
        the next If-Match, and a read whose If-None-Match names it is a 304 without a body (a
        client polling an object that has not changed gets nothing to parse)."""
        version = getattr(obj, "version", None)
        if version is not None and status == 200 and self.request.method in ("GET", "HEAD") \
                and etag_matches(self.request, version):
            return with_etag(Response(status=304), version)
        response = Response(self.present(obj), status=status)
        return with_etag(response, version) if version is not None else response


def if_match_version(request: Request) -> int | None:
    """``If-Match: "3"`` (or W/"3", or 3) → 3. A malformed value is a 412, never ignored."""
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    value = raw.strip()
    if value == "*":
        return None
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not value.isdigit():
        raise PreconditionFailed("If-Match must carry the ETag (version) of the resource", details={"ifMatch": raw})
    return int(value)


def etag_matches(request: Request | HttpRequest, version: int) -> bool:
    """Whether ``If-None-Match`` names this version (``"3"``, ``W/"3"``, a list of them, or ``*``)."""
    raw = request.META.get("HTTP_IF_NONE_MATCH")
    if raw is None:
        return False
    tags = [tag.strip() for tag in raw.split(",")]
    return "*" in tags or any(tag.removeprefix("W/") == f'"{version}"' for tag in tags)


def with_etag(response: Response, version: int) -> Response:
    response["ETag"] = f'"{version}"'
    return response
