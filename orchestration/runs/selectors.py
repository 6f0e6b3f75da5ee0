from __future__ import annotations

from django.db.models import QuerySet

from maestro.tenancy.models import Tenant
from orchestration.base.selectors import Lock, one
from orchestration.runs.models import Run


def run_list(*, tenant: Tenant) -> QuerySet[Run]:
    """Newest first, as the old ``runsRepo.list`` (ORDER BY created_at DESC)."""
    return Run.objects.filter(tenant=tenant).select_related("tenant").order_by("-created_at", "-id")


def run_get(*, tenant: Tenant, run_id: str, lock: Lock = None) -> Run:
    qs = Run.objects.filter(tenant=tenant, id=run_id)
    return one(qs if lock else qs.select_related("tenant"), "run", run_id, lock=lock)
