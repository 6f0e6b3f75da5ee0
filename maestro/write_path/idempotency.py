"""``Idempotency-Key`` for writes (IETF draft "The Idempotency-Key HTTP Header Field").

The key is claimed in the write's own transaction, before the write, by inserting its record:
a concurrent request with the same key waits on the unique index until the first commits and
then finds the stored answer. The answer is stored in the same transaction as the write, so a
crash never leaves a write without its answer or an answer without its write. A refused or
failed request releases its key: the client may retry it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from maestro.api.idempotency import Stored, check_key
from maestro.core.exceptions import Conflict, IdempotencyKeyReused
from maestro.write_path.models import IdempotencyRecord


def idempotency_claim(*, tenant_id: int, key: str, fingerprint: str) -> IdempotencyRecord | Stored:
    # (Called through DatabaseStore, which the write path registers with the API toolkit.)
    """Claims ``key`` for this request (inside the caller's transaction) or returns the answer
    stored for it. The same key with another request is a 422."""
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(tenant_id=tenant_id, key=check_key(key), fingerprint=fingerprint)
    except IntegrityError:
        pass
    first = IdempotencyRecord.objects.get(tenant_id=tenant_id, key=key)
    if first.fingerprint != fingerprint:
        raise IdempotencyKeyReused(details={"idempotencyKey": key})
    if first.status_code is None:  # claimed earlier in this very transaction
        raise Conflict("A request with this Idempotency-Key is in progress", details={"idempotencyKey": key})
    return Stored(first.status_code, first.body, dict(first.headers))


def idempotency_store(record: IdempotencyRecord, *, status_code: int, body: Any, headers: dict[str, str]) -> None:
    record.status_code, record.body, record.headers = status_code, body, headers
    record.save(update_fields=["status_code", "body", "headers"])


def idempotency_release(record: IdempotencyRecord) -> None:
    """The request was refused or failed: its key may be used again."""
    IdempotencyRecord.objects.filter(pk=record.pk).delete()


class DatabaseStore:
    """The API toolkit's idempotency store (maestro.api.idempotency.IdempotencyStore)."""

    def claim(self, *, tenant_id: int, key: str, fingerprint: str) -> IdempotencyRecord | Stored:
        return idempotency_claim(tenant_id=tenant_id, key=key, fingerprint=fingerprint)

    def store(self, claim: Any, *, status_code: int, body: Any, headers: dict[str, str]) -> None:
        idempotency_store(claim, status_code=status_code, body=body, headers=headers)

    def release(self, claim: Any) -> None:
        idempotency_release(claim)


def idempotency_prune(*, now: datetime | None = None) -> int:
    """Forgets keys older than ``MAESTRO_IDEMPOTENCY_KEY_HOURS`` (a retry after that is a new request)."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.MAESTRO_IDEMPOTENCY_KEY_HOURS)
    deleted = 0
    while ids := list(IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[:5000]):
        deleted += IdempotencyRecord.objects.filter(id__in=ids).delete()[0]
    return deleted
