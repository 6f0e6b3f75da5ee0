"""Sealing segments into write-once storage, pruning their payloads from the hot store, and
reading payloads back from the archive.

A segment ends at a signed checkpoint. Before anything is written the range is verified
(hashes, links, payloads, and the Merkle root carried on from the previous segment's end
frontier against that checkpoint), so tampered rows are refused, never sealed. The segment and
its manifest are uploaded, read back and compared, and only then recorded; a crash in between
is harmless because re-uploading identical bytes is a no-op for both backends.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from ledger import metrics
from ledger.archive import (
    ArchiveError,
    Backend,
    backend_for,
    encode_manifest,
    encode_segment,
    manifest_key,
    segment_key,
)
from ledger.checker import ChainChecker
from ledger.checkpoint_archive import tenants_with_unarchived_checkpoints
from ledger.hashing import GENESIS_HASH
from ledger.keys import public_key_b64
from ledger.merkle import Frontier
from ledger.models import ArchiveSegment, Checkpoint, LedgerEntry, LedgerPayload, TenantHead
from ledger.representations import checkpoint_repr, entry_repr
from ledger.selectors import tenant_slug
from ledger.sequencer import lock_tenant

log = logging.getLogger(__name__)

ARCHIVE_LOCK_NAMESPACE = 0x4C415243  # "LARC"


class ArchiveRefused(Exception):
    """The range does not verify; sealing it would make tampering permanent."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


def tenants_to_archive() -> list[int]:
    """Tenants with entries not in a segment yet, or checkpoints not in the archive yet."""
    heads = dict(TenantHead.objects.values_list("tenant_id", "sequence_number"))
    done = dict(ArchiveSegment.objects.values_list("tenant_id").annotate(m=Max("last_sequence"))
                .values_list("tenant_id", "m"))
    behind = {t for t, h in heads.items() if h > done.get(t, 0)}
    return sorted(behind.union(tenants_with_unarchived_checkpoints()))


def archive_tenant(*, tenant_id: int, force: bool = False, max_segments: int | None = None,
                   backend: Backend | None = None) -> list[ArchiveSegment]:
    """Archive every sealed range of the tenant. A range is sealed when it is full
    (``MAESTRO_ARCHIVE_SEGMENT_MAX`` entries), older than ``MAESTRO_ARCHIVE_SEAL_AGE_SECONDS``,
    or ``force`` is given."""
    backend = backend or backend_for()
    done: list[ArchiveSegment] = []
    while max_segments is None or len(done) < max_segments:
        segment = _archive_next(tenant_id, backend, force)
        if segment is None:
            break
        done.append(segment)
        if settings.MAESTRO_ARCHIVE_PRUNE_PAYLOADS:
            prune_payloads(segment=segment)
    return done


def _archive_next(tenant_id: int, backend: Backend, force: bool) -> ArchiveSegment | None:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [ARCHIVE_LOCK_NAMESPACE, tenant_id])
                if not cur.fetchone()[0]:
                    return None
        last = ArchiveSegment.objects.filter(tenant_id=tenant_id).order_by("-last_sequence").first()
        start = last.last_sequence + 1 if last else 1
        checkpoint = _segment_end(tenant_id, start)
        if checkpoint is None or not (force or _sealed(tenant_id, start, checkpoint.tree_size)):
            return None
        entries = list(LedgerEntry.objects.filter(tenant_id=tenant_id, sequence_number__gte=start,
                                                  sequence_number__lte=checkpoint.tree_size)
                       .order_by("sequence_number"))
        payloads = dict(LedgerPayload.objects.filter(tenant_id=tenant_id,
                                                     payload_hash__in={e.payload_hash for e in entries})
                        .values_list("payload_hash", "body"))
        start_frontier = last.end_frontier if last else []
        frontier = Frontier.from_list(start - 1, start_frontier)
        checker = ChainChecker(tenant_id=tenant_id, checkpoints=[checkpoint_repr(checkpoint)])
        checker.resync(first=start, previous_hash=last.last_hash if last else GENESIS_HASH, frontier=frontier)
        lines = []
        for entry in entries:
            body = entry_repr(entry)
            payload = payloads.get(entry.payload_hash)
            checker.feed(body, payload)
            lines.append((body, payload or "null"))
        checker.finish(height=checkpoint.tree_size)
        if checker.error_count:
            report = checker.report()
            raise ArchiveRefused(f"entries {start}..{checkpoint.tree_size} do not verify; not archiving", report)
        slug = tenant_slug(tenant_id)
        header = {"tenantId": tenant_id, "tenantSlug": slug, "firstSequence": start,
                  "lastSequence": checkpoint.tree_size, "previousHash": last.last_hash if last else GENESIS_HASH,
                  "startFrontier": {"size": start - 1, "nodes": start_frontier},
                  "checkpoint": checkpoint_repr(checkpoint), "publicKey": public_key_b64()}
        data = encode_segment(header, lines)
        digest = hashlib.sha256(data).hexdigest()
        key = segment_key(slug, start, checkpoint.tree_size)
        backend.put(key, data)
        backend.put(manifest_key(key), encode_manifest(key=key, data=data, header=header))
        if hashlib.sha256(backend.get(key)).hexdigest() != digest:
            raise ArchiveError(f"{key} reads back differently from what was written")
        segment = ArchiveSegment.objects.create(
            tenant_id=tenant_id, first_sequence=start, last_sequence=checkpoint.tree_size, key=key, sha256=digest,
            size_bytes=len(data), url=backend.url, last_hash=entries[-1].current_hash,
            end_frontier=checker.frontier.to_list(), archived_at=timezone.now())
    metrics.ARCHIVE_SEGMENTS.inc()
    log.info("ledger segment archived", extra={"event": "ledger.archived", "tenant_id": tenant_id, "key": key})
    return segment


def _segment_end(tenant_id: int, start: int) -> Checkpoint | None:
    """The largest checkpoint that keeps the segment within the size limit, else the first one
    past ``start`` (a single batch larger than a segment)."""
    checkpoints = Checkpoint.objects.filter(tenant_id=tenant_id, tree_size__gte=start)
    within = checkpoints.filter(tree_size__lte=start + settings.MAESTRO_ARCHIVE_SEGMENT_MAX - 1) \
        .order_by("-tree_size").first()
    return within or checkpoints.order_by("tree_size").first()


def _sealed(tenant_id: int, start: int, end: int) -> bool:
    if end - start + 1 >= settings.MAESTRO_ARCHIVE_SEGMENT_MAX:
        return True
    oldest = LedgerEntry.objects.filter(tenant_id=tenant_id, sequence_number=start) \
        .values_list("timestamp", flat=True).first()
    age = timedelta(seconds=settings.MAESTRO_ARCHIVE_SEAL_AGE_SECONDS)
    return oldest is not None and timezone.now() - oldest >= age


def prune_payloads(*, segment: ArchiveSegment) -> int:
    """Drop the segment's payloads from the hot store, except those a later, unarchived entry
    still uses. Entries keep their payloadHash, so the chain still verifies."""
    entries = LedgerEntry.objects.filter(tenant_id=segment.tenant_id)
    with transaction.atomic():
        # Under the sequencer's lock no batch can reuse a payload between the check and the delete.
        lock_tenant(segment.tenant_id)
        hashes = set(entries.filter(sequence_number__gte=segment.first_sequence,
                                    sequence_number__lte=segment.last_sequence).values_list("payload_hash", flat=True))
        # Later entries are the unarchived tail: a short range scan, no payload_hash index needed.
        hashes -= set(entries.filter(sequence_number__gt=segment.last_sequence, payload_hash__in=hashes)
                      .values_list("payload_hash", flat=True))
        deleted, _ = LedgerPayload.objects.filter(tenant_id=segment.tenant_id, payload_hash__in=hashes).delete()
        ArchiveSegment.objects.filter(pk=segment.pk).update(payloads_pruned_at=timezone.now())
    return deleted
