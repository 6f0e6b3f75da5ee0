from __future__ import annotations

import functools

from django.db.models import Exists, OuterRef, QuerySet

from maestro.core.compiled import CompiledValues
from maestro.tenancy.models import Tenant
from orchestration.base.selectors import Lock, one
from orchestration.control.models.loops import AutonomicLoop, LoopDecision


def loop_list(*, tenant: Tenant) -> QuerySet[AutonomicLoop]:
    return AutonomicLoop.objects.filter(tenant=tenant)


def loop_get(*, tenant: Tenant, loop_id: str, lock: Lock = None) -> AutonomicLoop:
    return one(AutonomicLoop.objects.filter(tenant=tenant, slug=loop_id), "loop", loop_id,
               lock=lock)


def loop_recent_decisions(*, tenant: Tenant, limit: int = 5) -> list[str]:
    """The latest decisions across the tenant's loops, newest first. Loops that only carry an
    imported ``lastDecision`` (no history rows) count by their ``lastRun``."""
    history_read, legacy_read = _recent_reads(limit)
    history = history_read.rows(tenant_id=tenant.pk)
    legacy = [(last_run, decision) for last_run, decision in legacy_read.rows(tenant_id=tenant.pk)
              if last_run is not None]  # excluded in the query already; tells the type checker
    merged = sorted(history + legacy, key=lambda item: item[0], reverse=True)
    return [text for _, text in merged[:limit]]


@functools.lru_cache(maxsize=8)
def _recent_reads(limit: int) -> tuple[CompiledValues, CompiledValues]:
    """The two reads of :func:`loop_recent_decisions` (compiled once per process: every
    dashboard makes them), at most ``limit`` rows each, however long the history: the newest
    decisions, and the imported last decisions of the loops without a history (left out by
    the index on it, not by reading it)."""
    mark = -7_400_003  # a tenant id no tenant has
    history = CompiledValues(lambda tenant_id: LoopDecision.objects.filter(tenant_id=tenant_id)
                             .order_by("-created_at", "-id").values_list("created_at", "decision")[:limit],
                             tenant_id=mark)
    legacy = CompiledValues(lambda tenant_id: AutonomicLoop.objects.filter(tenant_id=tenant_id)
                            .exclude(last_decision="").exclude(last_run=None)
                            .exclude(Exists(LoopDecision.objects.filter(loop=OuterRef("pk"))))
                            .order_by("-last_run").values_list("last_run", "last_decision")[:limit], tenant_id=mark)
    return history, legacy
