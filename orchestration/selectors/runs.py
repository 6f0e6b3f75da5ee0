from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from orchestration.models import Run
from orchestration.selectors._one import one


def run_list(*, tenant: Any) -> QuerySet[Run]:
    """Newest first, as the old ``runsRepo.list`` (ORDER BY created_at DESC)."""
    return Run.objects.filter(tenant=tenant).select_related("tenant").order_by("-created_at", "-id")


def run_get(*, tenant: Any, run_id: str, for_update: bool = False) -> Run:
    qs = Run.objects.filter(tenant=tenant, id=run_id)
    return one(qs if for_update else qs.select_related("tenant"), "run", run_id, lock="update" if for_update else None)
