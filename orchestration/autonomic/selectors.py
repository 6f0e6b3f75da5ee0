"""What the loops read: which loops are due, the signals of a tick, the decision history, and
whether a tenant's safety loop holds strict mode."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from maestro.core.compiled import CompiledRead
from maestro.tenancy.models import Tenant
from maestro.write_path.models import AuditEvent
from orchestration.autonomic import config as cfg
from orchestration.control.models.loops import AutonomicLoop, LoopDecision
from orchestration.control.models.playbooks import Playbook
from orchestration.control.selectors.loops import loop_get


def loops_due(*, now: datetime) -> list[int]:
    """The active loops (of every tenant) whose ``config.interval`` has passed since their last
    tick; a loop that never ticked is due. Each is then claimed by its tick (services.loop_tick_due)."""
    due = []
    for pk, last_run, config in AutonomicLoop.objects.filter(status=AutonomicLoop.Status.ACTIVE).order_by(
            "last_run", "pk").values_list("pk", "last_run", "config"):
        if last_run is None or last_run <= now - cfg.interval(config if isinstance(config, dict) else {}):
            due.append(pk)
    return due


def denied_events(*, tenant: Tenant, since: datetime, until: datetime) -> int:
    return AuditEvent.objects.filter(tenant=tenant, status=AuditEvent.Status.DENIED, timestamp__gte=since,
                                     timestamp__lte=until).count()


def decision_history(*, tenant: Tenant, loop_id: str) -> QuerySet[LoopDecision]:
    """A loop's decisions, newest first (404 for an unknown loop)."""
    loop = loop_get(tenant=tenant, loop_id=loop_id)
    return LoopDecision.objects.filter(tenant=tenant, loop=loop).order_by("-created_at", "-id")


def weight_before_quarantine(*, tenant: Tenant, agent_id: str, default: int = 100) -> int:
    """The routing weight an agent had when a loop last quarantined it (its weight to restore)."""
    recent = LoopDecision.objects.filter(tenant=tenant, action="quarantine").order_by("-created_at", "-id")[:100]
    for row in recent:
        for change in row.details.get("changes", []):
            if isinstance(change, dict) and change.get("agent") == agent_id and change.get("to", {}).get(
                    "routingWeight") == 0:
                weight = change.get("from", {}).get("routingWeight")
                if isinstance(weight, int) and 0 < weight <= 100:
                    return weight
    return default


def playbooks_triggered(*, tenant: Tenant, names: set[str]) -> list[Playbook]:
    """The tenant's enabled playbooks with a trigger in ``names`` (an action or an alert id)."""
    if not names:
        return []
    return [p for p in Playbook.objects.filter(tenant=tenant, is_enabled=True).order_by("created_at", "id")
            if isinstance(p.triggers, list) and names.intersection(t for t in p.triggers if isinstance(t, str))]


def _strict_loops(tenant_id: int) -> QuerySet[AutonomicLoop]:
    return AutonomicLoop.objects.filter(tenant_id=tenant_id, type=AutonomicLoop.Type.SAFETY,
                                        status=AutonomicLoop.Status.ACTIVE, config__strictMode=True).only("pk")[:1]


# Every write asks (the write guard): compiled once per process, since compiling the JSON lookup
# cost most of a single ledger append's CPU. Read afresh each time: a loop switched on holds
# the very next write.
_STRICT_LOOPS: CompiledRead[AutonomicLoop] = CompiledRead(_strict_loops, tenant_id=-7_919_000_002)


def strict_mode_on(*, tenant_id: int) -> bool:
    """Does an active safety loop of the tenant hold strict mode (``config.strictMode``)?"""
    return bool(_STRICT_LOOPS.rows(tenant_id=tenant_id))
