"""Reads of the ledger. Every function takes the tenant first; nothing here crosses tenants
except :func:`ledger_status` (metrics and health)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Max, Min, QuerySet
from django.utils import timezone

from ledger.models import (
    ArchiveSegment,
    Checkpoint,
    IntakeEntry,
    LedgerEntry,
    LedgerPayload,
    TenantHead,
    VerificationRun,
)
from maestro.core.exceptions import NotFound


def parse_entry_id(raw: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except (ValueError, TypeError, AttributeError):
        return None


def entry_get(*, tenant: Any, entry_id: Any) -> LedgerEntry:
    """Another tenant's entry is reported exactly like a missing one."""
    parsed = parse_entry_id(entry_id)
    entry = LedgerEntry.objects.filter(tenant_id=tenant.pk, id=parsed).first() if parsed else None
    if entry is None:
        raise NotFound("ledger_entry", str(entry_id))
    return entry


def intake_get(*, tenant: Any, entry_id: Any) -> IntakeEntry | None:
    parsed = parse_entry_id(entry_id)
    return IntakeEntry.objects.filter(tenant_id=tenant.pk, id=parsed).first() if parsed else None


def entry_or_intake(*, entry_id: uuid.UUID) -> LedgerEntry | IntakeEntry | None:
    """Whichever row holds this id now, in any tenant (the caller checks the tenant)."""
    return LedgerEntry.objects.filter(id=entry_id).first() or IntakeEntry.objects.filter(id=entry_id).first()


def entries_filter(*, tenant: Any, filters: dict[str, Any]) -> QuerySet[LedgerEntry]:
    qs = LedgerEntry.objects.filter(tenant_id=tenant.pk)
    if filters.get("fromSequence") is not None:
        qs = qs.filter(sequence_number__gte=filters["fromSequence"])
    if filters.get("toSequence") is not None:
        qs = qs.filter(sequence_number__lte=filters["toSequence"])
    for api, column in (("actionType", "action_type"), ("resourceType", "resource_type"),
                        ("resourceId", "resource_id"), ("actorId", "actor_id")):
        if filters.get(api) is not None:
            qs = qs.filter(**{column: filters[api]})
    return qs


def entries_page(*, qs: QuerySet[LedgerEntry], descending: bool, after: int | None,
                 limit: int) -> tuple[list[LedgerEntry], int | None]:
    """Keyset page by sequence number; returns the rows and the sequence to continue after."""
    if after is not None:
        qs = qs.filter(sequence_number__lt=after) if descending else qs.filter(sequence_number__gt=after)
    rows = list(qs.order_by("-sequence_number" if descending else "sequence_number")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, rows[-1].sequence_number


def entry_payloads(*, tenant: Any, entries: Iterable[LedgerEntry], fresh: bool = False) -> dict[int, str | None]:
    """Canonical payload text by sequence number: from the hot store, else from the archive
    (``fresh``: bypass the segment cache, for verification). ``None``: found in neither."""
    entries = list(entries)
    hot = dict(LedgerPayload.objects.filter(tenant_id=tenant.pk, payload_hash__in={e.payload_hash for e in entries})
               .values_list("payload_hash", "body"))
    out: dict[int, str | None] = {e.sequence_number: hot.get(e.payload_hash) for e in entries}
    missing = [seq for seq, body in out.items() if body is None]
    if missing:
        from ledger.archiver import archived_payloads

        out.update(archived_payloads(tenant_id=tenant.pk, sequences=missing, fresh=fresh))
    return out


def head_get(*, tenant: Any) -> TenantHead | None:
    return TenantHead.objects.filter(tenant_id=tenant.pk).first()


def height(*, tenant: Any) -> int:
    head = head_get(tenant=tenant)
    return head.sequence_number if head else 0


def checkpoints_list(*, tenant: Any) -> QuerySet[Checkpoint]:
    return Checkpoint.objects.filter(tenant_id=tenant.pk)


def checkpoint_at(*, tenant: Any, tree_size: int) -> Checkpoint | None:
    return Checkpoint.objects.filter(tenant_id=tenant.pk, tree_size=tree_size).first()


def checkpoint_latest(*, tenant: Any) -> Checkpoint | None:
    return Checkpoint.objects.filter(tenant_id=tenant.pk).order_by("-tree_size").first()


def segments_list(*, tenant: Any) -> QuerySet[ArchiveSegment]:
    return ArchiveSegment.objects.filter(tenant_id=tenant.pk).order_by("first_sequence")


def backlog(*, tenant: Any) -> int:
    return IntakeEntry.objects.filter(tenant_id=tenant.pk).count()


def ledger_status() -> list[dict[str, Any]]:
    """Per tenant: backlog, height, archive lag (entries and seconds), last verifications. For
    /metrics and the health workstreams; a handful of grouped queries, whatever the size."""
    from maestro.tenancy.models import Tenant

    slugs = dict(Tenant.objects.values_list("pk", "slug"))
    backlogs = dict(IntakeEntry.objects.values_list("tenant_id").annotate(n=Count("pk_id"))
                    .values_list("tenant_id", "n"))
    heights = dict(TenantHead.objects.values_list("tenant_id", "sequence_number"))
    archived = dict(ArchiveSegment.objects.values_list("tenant_id").annotate(m=Max("last_sequence"))
                    .values_list("tenant_id", "m"))
    now = timezone.now()
    runs: dict[int, dict[str, dict[str, Any]]] = {}
    for run in _latest_runs():
        runs.setdefault(run.tenant_id, {})[run.kind] = {"valid": run.valid, "finishedAt": run.finished_at.timestamp()}
    out = []
    for tenant_id in sorted(set(backlogs) | set(heights)):
        h = heights.get(tenant_id, 0)
        done = archived.get(tenant_id, 0)
        lag_seconds = 0.0
        if h > done:
            oldest = LedgerEntry.objects.filter(tenant_id=tenant_id, sequence_number=done + 1) \
                .aggregate(t=Min("timestamp"))["t"]
            lag_seconds = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
        out.append({"tenantId": tenant_id, "tenant": slugs.get(tenant_id, str(tenant_id)),
                    "backlog": backlogs.get(tenant_id, 0), "height": h, "archivedThrough": done,
                    "archiveLagEntries": h - done, "archiveLagSeconds": lag_seconds,
                    "lastVerification": runs.get(tenant_id, {})})
    return out


def _latest_runs() -> list[VerificationRun]:
    latest = (VerificationRun.objects.values("tenant_id", "kind").annotate(last=Max("pk_id"))
              .values_list("last", flat=True))
    return list(VerificationRun.objects.filter(pk_id__in=list(latest)))
