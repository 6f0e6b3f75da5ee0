from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from maestro.context import current_request_id
from realtime.models import Event, EventStream


def events_append(*, tenant: Any, items: list[tuple[str, dict[str, Any], str]]) -> list[Event]:
    """Allocates ``len(items)`` consecutive seqs for the tenant and stores the events.
    Must run inside the write transaction, as late as possible (see write_path)."""
    n = len(items)
    EventStream.objects.get_or_create(tenant_id=tenant.pk)
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {EventStream._meta.db_table} SET last_seq = last_seq + %s "
            "WHERE tenant_id = %s RETURNING last_seq",
            [n, tenant.pk],
        )
        last = cur.fetchone()[0]
    first = last - n + 1
    now = timezone.now()
    request_id = current_request_id()
    rows = [
        Event(tenant_id=tenant.pk, seq=first + i, type=type_, data=data, project_id=project_id,
              request_id=request_id, created_at=now)
        for i, (type_, data, project_id) in enumerate(items)
    ]
    Event.objects.bulk_create(rows)
    return rows


def events_prune(*, now: Any = None) -> int:
    """Retention by age and by count per tenant. Resuming from a pruned seq answers
    ``resync_required`` (see selectors.events_after)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.MAESTRO_EVENT_RETENTION_SECONDS)
    deleted = 0
    for stream in EventStream.objects.all():
        keep_from = stream.last_seq - settings.MAESTRO_EVENT_RETENTION_COUNT + 1
        with transaction.atomic():
            deleted += Event.objects.filter(
                Q(tenant_id=stream.tenant_id), Q(created_at__lt=cutoff) | Q(seq__lt=keep_from)
            ).delete()[0]
    return deleted
