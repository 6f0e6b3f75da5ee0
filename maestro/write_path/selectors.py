from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from maestro.core.exceptions import ValidationFailed
from maestro.write_path.models import AuditEvent


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEvent]
    next_cursor: str | None


def audit_log(*, tenant_id: int, limit: int, cursor: str | None = None) -> AuditPage:
    """Newest first, keyset-paged by (timestamp, id) so deep pages stay cheap; the log itself
    is never trimmed by count (only by retention, see services.audit_prune)."""
    qs = AuditEvent.objects.filter(tenant_id=tenant_id).order_by("-timestamp", "-id")
    if cursor:
        ts, pk = _decode(cursor)
        qs = qs.filter(Q(timestamp__lt=ts) | Q(timestamp=ts, id__lt=pk))
    rows = list(qs[: limit + 1])
    if len(rows) <= limit:
        return AuditPage(items=rows, next_cursor=None)
    rows = rows[:limit]
    return AuditPage(items=rows, next_cursor=_encode(rows[-1].timestamp, rows[-1].id))


def _encode(ts: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{ts.isoformat()}|{pk}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        ts, pk = raw.rsplit("|", 1)
        when = datetime.fromisoformat(ts)
        if when.tzinfo is None:
            raise ValueError("naive timestamp")
        return when, int(pk)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValidationFailed("cursor is invalid", details={"cursor": cursor}) from None


def audit_row_known(*, tenant_id: int, audit_id: str) -> bool:
    """Is this audit id already in the tenant's log: an imported row's old id, or the primary
    key of a row Maestro itself wrote (its ``legacy_id`` is blank)."""
    native = Q(pk=int(audit_id), legacy_id="") if audit_id.isdigit() and len(audit_id) < 19 else Q(pk__in=[])
    return AuditEvent.objects.filter(Q(legacy_id=audit_id) | native, tenant_id=tenant_id).exists()


def audit_history(*, tenant_id: int) -> Iterator[AuditEvent]:
    """The tenant's audit rows oldest first, streamed (``maestro_export``)."""
    return AuditEvent.objects.filter(tenant_id=tenant_id).order_by("timestamp", "id").iterator(chunk_size=2000)
