"""Reads of the ledger, each for one tenant (its id), including payloads that were moved to the
archive."""

from __future__ import annotations

import bisect
import functools
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from ledger.archive import ArchiveError, backend_for, decode_segment
from ledger.models import (
    ArchiveSegment,
    Checkpoint,
    IntakeEntry,
    LedgerEntry,
    LedgerPayload,
    TenantHead,
)
from maestro.core.exceptions import NotFound

log = logging.getLogger(__name__)


def parse_entry_id(raw: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except (ValueError, TypeError, AttributeError):
        return None


def entry_get(*, tenant_id: int, entry_id: Any) -> LedgerEntry:
    """Another tenant's entry is reported exactly like a missing one."""
    parsed = parse_entry_id(entry_id)
    entry = LedgerEntry.objects.filter(tenant_id=tenant_id, id=parsed).first() if parsed else None
    if entry is None:
        raise NotFound("ledger_entry", str(entry_id))
    return entry


def intake_get(*, tenant_id: int, entry_id: Any) -> IntakeEntry | None:
    parsed = parse_entry_id(entry_id)
    return IntakeEntry.objects.filter(tenant_id=tenant_id, id=parsed).first() if parsed else None


def entry_or_intake(*, tenant_id: int, entry_id: uuid.UUID) -> LedgerEntry | IntakeEntry | None:
    """Whichever of this tenant's rows holds this id now."""
    return (LedgerEntry.objects.filter(tenant_id=tenant_id, id=entry_id).first()
            or IntakeEntry.objects.filter(tenant_id=tenant_id, id=entry_id).first())


def entries_or_intake(*, tenant_id: int, ids: list[uuid.UUID]) -> list[LedgerEntry | IntakeEntry]:
    """This tenant's rows holding these ids, in the order given (each must exist). Intake
    first: the sequencer moves rows to the entries atomically, so a row gone from intake by now
    is among the entries for the second query."""
    found: dict[uuid.UUID, LedgerEntry | IntakeEntry] = {
        e.id: e for e in IntakeEntry.objects.filter(tenant_id=tenant_id, id__in=ids)}
    found.update((e.id, e) for e in LedgerEntry.objects.filter(tenant_id=tenant_id, id__in=ids))
    missing = [entry_id for entry_id in ids if entry_id not in found]
    if missing:
        raise NotFound("ledger_entry", str(missing[0]))
    return [found[entry_id] for entry_id in ids]


def entries_list(*, tenant_id: int) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(tenant_id=tenant_id)


def entry_payloads(*, tenant_id: int, entries: Iterable[LedgerEntry], fresh: bool = False) -> dict[int, str | None]:
    """Canonical payload text by sequence number: from the hot store, else from the archive
    (``fresh``: bypass the segment cache, for verification). ``None``: found in neither."""
    entries = list(entries)
    hot = dict(LedgerPayload.objects.filter(tenant_id=tenant_id, payload_hash__in={e.payload_hash for e in entries})
               .values_list("payload_hash", "body"))
    out: dict[int, str | None] = {e.sequence_number: hot.get(e.payload_hash) for e in entries}
    missing = [seq for seq, body in out.items() if body is None]
    if missing:
        out.update(archived_payloads(tenant_id=tenant_id, sequences=missing, fresh=fresh))
    return out


def payload_in_hot_store(*, tenant_id: int, payload_hash: str) -> bool:
    """False once the payload was archived and pruned (``entry_payloads`` reads it from the archive)."""
    return LedgerPayload.objects.filter(tenant_id=tenant_id, payload_hash=payload_hash).exists()


def head_get(*, tenant_id: int) -> TenantHead | None:
    return TenantHead.objects.filter(tenant_id=tenant_id).first()


def height(*, tenant_id: int) -> int:
    head = head_get(tenant_id=tenant_id)
    return head.sequence_number if head else 0


def checkpoints_list(*, tenant_id: int) -> QuerySet[Checkpoint]:
    return Checkpoint.objects.filter(tenant_id=tenant_id)


def checkpoint_at(*, tenant_id: int, tree_size: int) -> Checkpoint | None:
    return Checkpoint.objects.filter(tenant_id=tenant_id, tree_size=tree_size).first()


def segments_list(*, tenant_id: int) -> QuerySet[ArchiveSegment]:
    return ArchiveSegment.objects.filter(tenant_id=tenant_id).order_by("first_sequence")


def backlog(*, tenant_id: int) -> int:
    return IntakeEntry.objects.filter(tenant_id=tenant_id).count()


def tenant_slug(tenant_id: int) -> str:
    """The tenant's slug, which names its archive (through the ledger's own link to the tenant,
    so the ledger imports nothing above it), whether or not it has sequenced anything yet."""
    tenants = TenantHead._meta.get_field("tenant").related_model
    slug: str | None = tenants._default_manager.filter(pk=tenant_id).values_list("slug", flat=True).first()
    if slug is None:
        raise NotFound("ledger", str(tenant_id))
    return slug


def ledger_tenants(slugs: list[str] | None = None) -> list[tuple[int, str]]:
    """``(tenant id, slug)`` of the tenants that have a ledger (all, or those named)."""
    qs = TenantHead.objects.all()
    if slugs:
        qs = qs.filter(tenant__slug__in=slugs)
    return list(qs.order_by("tenant__slug").values_list("tenant_id", "tenant__slug"))


def archived_payloads(*, tenant_id: int, sequences: list[int], fresh: bool = False) -> dict[int, str]:
    """Canonical payload text by sequence number, read from the archive segments."""
    if not sequences:
        return {}
    segments = list(ArchiveSegment.objects.filter(tenant_id=tenant_id, first_sequence__lte=max(sequences),
                                                  last_sequence__gte=min(sequences)).order_by("first_sequence"))
    firsts = [s.first_sequence for s in segments]
    out: dict[int, str] = {}
    for seq in sequences:
        i = bisect.bisect_right(firsts, seq) - 1
        if i < 0 or segments[i].last_sequence < seq:
            continue
        segment = segments[i]
        try:
            by_seq = _read_segment(segment.url, segment.key) if not fresh else \
                _read_segment.__wrapped__(segment.url, segment.key)
        except ArchiveError:
            log.warning("archive segment unreadable", exc_info=True,
                        extra={"event": "ledger.archive_unreadable", "key": segment.key})
            continue
        if seq in by_seq:
            out[seq] = by_seq[seq]
    return out


@functools.lru_cache(maxsize=4)
def _read_segment(url: str, key: str) -> dict[int, str]:
    # Segments are write-once, so a cached copy is only ever stale if the archive was tampered
    # with; verification reads fresh (``fresh=True``).
    segment = decode_segment(backend_for(url).get(key))
    return {e["sequenceNumber"]: payload for e, payload in segment.entries if isinstance(e.get("sequenceNumber"), int)}
