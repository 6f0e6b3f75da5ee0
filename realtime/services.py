from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from maestro.core.context import current_request_id
from realtime.models import Event, EventStream, Installation

PRUNE_BATCH = 10_000


class PendingEvent(NamedTuple):
    """An event a write unit will append: its tenant, type, payload, and the project it is
    about ("" for tenant-wide events), which project subscriptions filter on."""

    tenant_id: int
    type: str
    data: Mapping[str, Any]
    project_id: str
    # Also shown on the old clients' stream ``/`` (DESIGN §5; the write path decides).
    old_stream: bool = False


def _advance(tenant_id: int, n: int) -> int:
    """Takes ``n`` seqs off the tenant's counter; returns the last. The row stays locked until
    the caller's commit, which is what makes seqs gapless and commit order = seq order."""
    table = connection.ops.quote_name(EventStream._meta.db_table)
    sql = f"UPDATE {table} SET last_seq = last_seq + %s WHERE tenant_id = %s RETURNING last_seq"
    with connection.cursor() as cur:
        cur.execute(sql, [n, tenant_id])
        row = cur.fetchone()
        if row is None:
            # First event of the tenant. ON CONFLICT DO NOTHING: a concurrent first writer
            # inserts it too, and then our UPDATE waits for its commit like any other.
            EventStream.objects.bulk_create([EventStream(tenant_id=tenant_id)], ignore_conflicts=True)
            cur.execute(sql, [n, tenant_id])
            row = cur.fetchone()
    return int(row[0])


def events_append(*, tenant_id: int, items: list[PendingEvent]) -> list[Event]:
    """Allocates ``len(items)`` consecutive seqs for the tenant and stores the events.
    Must run inside the write transaction, as late as possible (see write_path)."""
    if not items:
        return []
    now = timezone.now()
    request_id = current_request_id()
    rows = [Event(tenant_id=tenant_id, type=item.type, data=item.data, project_id=item.project_id,
                  old_stream=item.old_stream, request_id=request_id, created_at=now) for item in items]
    last = _advance_and_insert(tenant_id, rows) if connection.vendor == "postgresql" else None
    if last is None:
        last = _advance(tenant_id, len(rows))
        _number(rows, last)
        Event.objects.bulk_create(rows)
    else:
        _number(rows, last)
    return rows


def _number(rows: list[Event], last: int) -> None:
    for i, row in enumerate(rows):
        row.seq = last - len(rows) + 1 + i


def _advance_and_insert(tenant_id: int, rows: list[Event]) -> int | None:
    """PostgreSQL: the seqs taken and the events inserted in one statement (every write unit's
    last statement before its commit); ``None`` when the tenant has no counter row yet."""
    opts = Event._meta
    fields = [opts.get_field(name) for name in ("type", "data", "project_id", "request_id", "old_stream", "created_at")]
    columns = [[f.get_db_prep_save(getattr(row, f.attname), connection) for row in rows] for f in fields]  # type: ignore[union-attr]
    stream = connection.ops.quote_name(EventStream._meta.db_table)
    sql = (f"WITH taken AS (UPDATE {stream} SET last_seq = last_seq + %s WHERE tenant_id = %s RETURNING last_seq) "
           f'INSERT INTO "{opts.db_table}" ("tenant_id", "seq", "type", "data", "project_id", "request_id", '
           f'"old_stream", "created_at") '
           f"SELECT %s, taken.last_seq - %s + e.n, e.type, e.data, e.project_id, e.request_id, e.old_stream, "
           f"e.created_at FROM taken, unnest(%s::varchar[], %s::jsonb[], %s::varchar[], %s::varchar[], "
           f"%s::boolean[], %s::timestamptz[]) WITH ORDINALITY AS e(type, data, project_id, request_id, old_stream, "
           f"created_at, n) RETURNING seq")
    with connection.cursor() as cur:
        cur.execute(sql, [len(rows), tenant_id, tenant_id, len(rows), *columns])
        seqs = [int(r[0]) for r in cur.fetchall()]
    return max(seqs) if seqs else None


def installation_key() -> str:
    """This installation's identity (:class:`realtime.models.Installation`). ``migrate`` makes
    it; should the row be gone (a flushed test database) the first reader makes a new one, and
    a concurrent reader gets the same row."""
    installation, _ = Installation.objects.get_or_create(pk=1, defaults={"key": secrets.token_hex(8)})
    return installation.key


def events_prune(*, now: datetime | None = None) -> int:
    """Retention by age and by count per tenant (MAESTRO_EVENT_RETENTION_SECONDS / _COUNT).

    Both limits become one seq cut-off and only a prefix of the log is deleted, never a
    hole: clocks of several web hosts may disagree, so ``created_at`` is not strictly
    ordered by seq, and a hole would let a resume skip events without noticing. Resuming
    from a pruned seq answers ``resync_required`` (selectors.events_after)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.MAESTRO_EVENT_RETENTION_SECONDS)
    deleted = 0
    for tenant_id, last_seq in EventStream.objects.values_list("tenant_id", "last_seq"):
        by_count = last_seq - settings.MAESTRO_EVENT_RETENTION_COUNT
        by_age = Event.objects.filter(tenant_id=tenant_id, created_at__lt=cutoff).aggregate(m=Max("seq"))["m"] or 0
        cut = max(by_count, by_age)
        low = Event.objects.filter(tenant_id=tenant_id).order_by("seq").values_list("seq", flat=True).first()
        while low is not None and low <= cut:
            high = min(cut, low + PRUNE_BATCH - 1)
            # Bounded batches: a backlog of millions never becomes one long lock.
            with transaction.atomic():
                deleted += Event.objects.filter(tenant_id=tenant_id, seq__gte=low, seq__lte=high).delete()[0]
            low = high + 1
    return deleted
