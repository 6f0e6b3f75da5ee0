"""Keyset paging for list endpoints: ``?limit=`` (default 500, max 5000) and ``?cursor=``;
a truncated list answers ``Link: <…>; rel="next"``. Lists stay plain JSON arrays."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q, QuerySet

from maestro.core.exceptions import ValidationFailed


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def parse_limit(raw: str | None, *, default: int | None = None, maximum: int | None = None) -> int:
    default = default or settings.MAESTRO_LIST_DEFAULT_LIMIT
    maximum = maximum or settings.MAESTRO_LIST_MAX_LIMIT
    if raw in (None, ""):
        return default
    try:
        value = int(raw)  # type: ignore[arg-type]
    except ValueError:
        raise ValidationFailed("limit must be an integer", details={"limit": raw}) from None
    if value < 1 or value > maximum:
        raise ValidationFailed(f"limit must be between 1 and {maximum}", details={"limit": value})
    return value


def _encode(ts: datetime, pk: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([ts.isoformat(), pk]).encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts, pk = json.loads(raw)
        at = datetime.fromisoformat(ts)
        if at.tzinfo is None or not isinstance(pk, str):
            raise ValueError("not a cursor this server made")
        return at, pk
    except (ValueError, TypeError):
        raise ValidationFailed("cursor is invalid", details={"cursor": cursor}) from None


def keyset_page(qs: QuerySet[Any], *, time_field: str, limit: int, cursor: str | None) -> Page:
    """Orders by (time_field, pk) and returns at most ``limit`` rows after the cursor."""
    qs = qs.order_by(time_field, "pk")
    if cursor:
        ts, pk = _decode(cursor)
        qs = qs.filter(Q(**{f"{time_field}__gt": ts}) | Q(**{time_field: ts, "pk__gt": pk}))
    rows = list(qs[: limit + 1])
    if len(rows) <= limit:
        return Page(items=rows, next_cursor=None)
    rows = rows[:limit]
    last = rows[-1]
    return Page(items=rows, next_cursor=_encode(getattr(last, time_field), str(last.pk)))


def next_link(request: Any, cursor: str) -> str:
    params = request.GET.copy()
    params["cursor"] = cursor
    return f'<{request.build_absolute_uri(request.path)}?{urlencode(params, doseq=True)}>; rel="next"'
