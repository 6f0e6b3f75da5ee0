from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from orchestration.models import AutonomicLoop, LoopDecision
from orchestration.selectors._one import one


def loop_list(*, tenant: Any) -> QuerySet[AutonomicLoop]:
    return AutonomicLoop.objects.filter(tenant=tenant)


def loop_get(*, tenant: Any, loop_id: str, for_update: bool = False) -> AutonomicLoop:
    return one(AutonomicLoop.objects.filter(tenant=tenant, slug=loop_id), "loop", loop_id,
               lock="update" if for_update else None)


def loop_recent_decisions(*, tenant: Any, limit: int = 5) -> list[str]:
    """The latest decisions across the tenant's loops, newest first. Loops that only carry an
    imported ``lastDecision`` (no history rows) count by their ``lastRun``."""
    history = list(LoopDecision.objects.filter(tenant=tenant).order_by("-created_at", "-id")
                   .values_list("created_at", "decision")[:limit])
    seen_latest = set(LoopDecision.objects.filter(tenant=tenant).values_list("loop_id", flat=True).distinct())
    legacy = [(loop.last_run, loop.last_decision) for loop in
              AutonomicLoop.objects.filter(tenant=tenant).exclude(last_decision="").exclude(pk__in=seen_latest)
              .exclude(last_run=None).order_by("-last_run")[:limit]]
    merged = sorted(history + legacy, key=lambda item: item[0], reverse=True)
    return [text for _, text in merged[:limit]]
