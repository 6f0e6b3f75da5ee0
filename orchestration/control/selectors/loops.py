from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

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
    history = list(LoopDecision.objects.filter(tenant=tenant).order_by("-created_at", "-id")
                   .values_list("created_at", "decision")[:limit])
    # Two reads of at most ``limit`` rows, however long the history (the loops that have one are
    # left out by the index on it, not by reading it).
    legacy = [(last_run, decision) for last_run, decision in
              AutonomicLoop.objects.filter(tenant=tenant).exclude(last_decision="").exclude(last_run=None)
              .exclude(Exists(LoopDecision.objects.filter(loop=OuterRef("pk"))))
              .order_by("-last_run").values_list("last_run", "last_decision")[:limit]
              if last_run is not None]  # excluded in the query already; tells the type checker
    merged = sorted(history + legacy, key=lambda item: item[0], reverse=True)
    return [text for _, text in merged[:limit]]
