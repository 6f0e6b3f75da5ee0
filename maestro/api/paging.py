"""The one way lists page (DESIGN §4): ``?limit=`` (default 500, max 5000) and an opaque
``?cursor=``; a truncated list answers ``Link: <…>; rel="next"``. Lists stay plain JSON arrays.

Paging is by keyset: an :class:`Order` names the columns a list is sorted by (the last one
unique), and a cursor carries the values of the last row sent, so a deep page costs what the
first does and rows added meanwhile are neither skipped nor repeated."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from django.conf import settings
from django.db import models
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from maestro.core.exceptions import ValidationFailed
from maestro.core.wire import from_iso, to_iso

M = TypeVar("M", bound=models.Model)
# Beyond this an offset (the old runs API's paging) is refused rather than sent to the database.
MAX_OFFSET = 1_000_000


@dataclass(frozen=True)
class Order:
    """Sort columns, each ascending or ``-descending``; the last must be unique (the pk)."""

    fields: tuple[str, ...]

    @classmethod
    def of(cls, *fields: str) -> Order:
        return cls(fields)

    def names(self) -> list[str]:
        return [f.lstrip("-") for f in self.fields]


CREATED = Order.of("created_at", "pk")
"""Oldest first, the order of most lists."""


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    next_cursor: str | None


def parse_limit(raw: str | None, *, default: int | None = None, maximum: int | None = None) -> int:
    default = default or settings.MAESTRO_LIST_DEFAULT_LIMIT
    maximum = maximum or settings.MAESTRO_LIST_MAX_LIMIT
    if raw in (None, ""):
        return default
    if not (raw.isascii() and raw.lstrip("-").isdigit()):
        raise ValidationFailed("limit must be an integer", details={"limit": raw})
    value = int(raw)
    if value < 1 or value > maximum:
        raise ValidationFailed(f"limit must be between 1 and {maximum}", details={"limit": value})
    return value


def parse_offset(raw: str | None) -> int:
    if raw in (None, ""):
        return 0
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_OFFSET:
        raise ValidationFailed(f"offset must be an integer between 0 and {MAX_OFFSET}", details={"offset": raw})
    return int(raw)


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    return model._meta.pk if name == "pk" else model._meta.get_field(name)  # type: ignore[return-value]


def _encode_value(value: Any) -> Any:
    return to_iso(value) if isinstance(value, datetime) else value


def _decode_value(field: models.Field[Any, Any], value: Any) -> Any:
    if isinstance(field, models.DateTimeField):
        if not isinstance(value, str):
            raise ValueError("a timestamp")
        return from_iso(value)
    if isinstance(field, (models.IntegerField, models.AutoField)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("an integer")
        return value
    if not isinstance(value, str):
        raise ValueError("a string")
    return value


def encode_cursor(order: Order, row: models.Model) -> str:
    values = [_encode_value(getattr(row, name)) for name in order.names()]
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(order: Order, model: type[models.Model], cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        names = order.names()
        if not isinstance(values, list) or len(values) != len(names):
            raise ValueError("not a cursor this list made")
        return [_decode_value(_field(model, name), value) for name, value in zip(names, values, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("cursor is invalid", details={"cursor": cursor}) from None


def after(order: Order, values: list[Any]) -> Q:
    """Rows after ``values`` in ``order``: (a > x) | (a = x & b > y) | …"""
    condition = Q(pk__in=[])
    for i, spec in enumerate(order.fields):
        name = spec.lstrip("-")
        step = Q(**{f"{name}__{'lt' if spec.startswith('-') else 'gt'}": values[i]})
        for prior, value in zip(order.names()[:i], values[:i], strict=True):
            step &= Q(**{prior: value})
        condition |= step
    return condition


def page(qs: QuerySet[M], *, order: Order, limit: int, cursor: str | None = None, offset: int = 0) -> Page[M]:
    """At most ``limit`` rows of ``qs`` in ``order``, after the cursor (or, without one, after
    skipping ``offset`` rows: the old runs API's paging)."""
    qs = qs.order_by(*order.fields)
    if cursor:
        qs = qs.filter(after(order, decode_cursor(order, qs.model, cursor)))
    elif offset:
        qs = qs[offset:]
    rows = list(qs[: limit + 1])
    if len(rows) <= limit:
        return Page(items=rows, next_cursor=None)
    rows = rows[:limit]
    return Page(items=rows, next_cursor=encode_cursor(order, rows[-1]))


def next_link(request: HttpRequest, **params: Any) -> str:
    """The request's own URL and query with ``params`` replacing theirs (``cursor`` replaces an
    offset: the cursor already says where to go on)."""
    query = request.GET.copy()
    query.pop("offset", None)
    for name, value in params.items():
        query[name] = str(value)
    return f'<{request.build_absolute_uri(request.path)}?{urlencode(query, doseq=True)}>; rel="next"'
