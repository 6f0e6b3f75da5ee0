from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Q, QuerySet

from maestro.write_path.models import AuditEvent


def audit_log(*, tenant_id: int) -> QuerySet[AuditEvent]:
    """The tenant's audit rows; the log is never trimmed by count, only by retention
    (services.audit_prune)."""
    return AuditEvent.objects.filter(tenant_id=tenant_id)


def audit_row_known(*, tenant_id: int, audit_id: str) -> bool:
    """Is this audit id already in the tenant's log: an imported row's old id, or the primary
    key of a row Maestro itself wrote (its ``legacy_id`` is blank)."""
    native = Q(pk=int(audit_id), legacy_id="") if audit_id.isdigit() and len(audit_id) < 19 else Q(pk__in=[])
    return AuditEvent.objects.filter(Q(legacy_id=audit_id) | native, tenant_id=tenant_id).exists()


def audit_history(*, tenant_id: int) -> Iterator[AuditEvent]:
    """The tenant's audit rows oldest first, streamed (``maestro_export``)."""
    return AuditEvent.objects.filter(tenant_id=tenant_id).order_by("timestamp", "id").iterator(chunk_size=2000)
