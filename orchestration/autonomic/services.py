"""Loop ticks (DESIGN §7.2). A tick runs in one transaction: claim, monitor, analyse, plan,
execute (through the control services: each change audited, ledgered, broadcast), start the
triggered playbooks, record the decision. A tick that fails leaves nothing behind, its claim
included, so the next dispatch tries again.

"Two schedulers never tick the same loop twice": a scheduled tick claims its loop with one
conditional ``UPDATE … SET last_run = now WHERE status = 'active' AND (last_run IS NULL OR
last_run <= now - interval)``. Of two ticks racing for the same due loop, the second waits on
the first's row lock and then finds the loop no longer due (PostgreSQL re-checks the condition
on the row the first committed), so it does nothing."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import MaestroError
from maestro.core.wire import to_iso
from maestro.policy.decisions import PolicyDenied
from maestro.tenancy.models import Tenant
from maestro.write_path.services import refusal_record, service
from orchestration.autonomic import config as cfg
from orchestration.autonomic import metrics, policies
from orchestration.autonomic.selectors import (
    denied_events,
    playbooks_triggered,
    weight_before_quarantine,
)
from orchestration.control.agent_metrics import agent_metrics
from orchestration.control.models.loops import AutonomicLoop, LoopDecision
from orchestration.control.selectors.agents import agent_list
from orchestration.control.selectors.loops import loop_get
from orchestration.control.services.agents import agent_update
from orchestration.control.services.loops import loop_record_decision, loop_update
from orchestration.engine.services import playbook_start

log = logging.getLogger(__name__)

SCHEDULE, MANUAL = "schedule", "manual"


def tick_actor(loop: AutonomicLoop) -> Actor:
    """Who a scheduled tick acts as in the audit log and the ledger."""
    return Actor.job(f"loop:{loop.slug}")


def loop_tick_due(*, loop_pk: int, now: datetime | None = None) -> LoopDecision | None:
    """A scheduled tick: claims the loop if it is (still) active and due, then ticks it.
    ``None`` when it was not due (another tick claimed it first, or it was paused or deleted)."""
    now = now or timezone.now()
    with service():
        loop = AutonomicLoop.objects.filter(pk=loop_pk).select_related("tenant").first()
        if loop is None:
            return None
        claimed = AutonomicLoop.objects.filter(pk=loop_pk, status=AutonomicLoop.Status.ACTIVE).filter(
            Q(last_run__isnull=True) | Q(last_run__lte=now - cfg.interval(loop.config))).update(last_run=now)
        if not claimed:
            return None
        loop.refresh_from_db()  # the config as it is now: an admin edit takes effect at this tick
        return _tick(loop, actor=tick_actor(loop), now=now, trigger=SCHEDULE)


def loop_run_now(*, tenant: Tenant, actor: Actor, loop_id: str, now: datetime | None = None) -> LoopDecision:
    """An operator's tick (``POST autonomic/loops/{id}/run``, the admin's "Run now"), paused or
    not: it waits for a tick of the same loop that is under way, and counts as the loop's last
    tick for the schedule."""
    with service():
        loop = loop_get(tenant=tenant, loop_id=loop_id, lock="update")
        return _tick(loop, actor=actor, now=now or timezone.now(), trigger=MANUAL)


def _tick(loop: AutonomicLoop, *, actor: Actor, now: datetime, trigger: str) -> LoopDecision:
    started = time.perf_counter()
    tenant = loop.tenant
    config: dict[str, Any] = loop.config if isinstance(loop.config, dict) else {}
    window = cfg.window(config)
    plan = _plan(loop, tenant, config, now)
    for change in plan.agent_changes:
        agent_update(tenant=tenant, actor=actor, agent_id=change.agent_id, changes=change.changes)
    if plan.strict_mode:
        loop_update(tenant=tenant, actor=actor, loop_id=loop.slug, changes={"config": {**config, "strictMode": True}})
    started_runs = _start_playbooks(loop, tenant, actor, plan, now) if plan.action != policies.Act.NONE or \
        plan.alerts else []
    details = {
        "trigger": trigger, "window": config.get("window", "1h"), "windowSeconds": int(window.total_seconds()),
        "signals": plan.signals, "actions": plan.actions, "changes": [c.describe() for c in plan.agent_changes],
        "alerts": plan.alerts, "playbooks": started_runs, "strictMode": plan.strict_mode or None,
    }
    details = {k: v for k, v in details.items() if v is not None}
    row = loop_record_decision(tenant=tenant, actor=actor, loop_id=loop.slug, decision=plan.summary,
                               details=details, action=plan.action, now=now)
    metrics.DECISIONS.labels(type=loop.type, action=plan.action).inc()
    metrics.TICK_DURATION.labels(type=loop.type).observe(time.perf_counter() - started)
    log.info("loop ticked", extra={"event": "loop.ticked", "loop": loop.slug, "tenant_id": tenant.pk,
                                   "action": plan.action, "trigger": trigger})
    return row


def _plan(loop: AutonomicLoop, tenant: Tenant, config: dict[str, Any], now: datetime) -> policies.Plan:
    """Monitor (the real signals of the loop's type) and analyse them (its policy)."""
    window = cfg.window(config)
    if loop.type == AutonomicLoop.Type.SAFETY:
        return policies.safety(config, denials=denied_events(tenant=tenant, since=now - window, until=now))
    agents = list(agent_list(tenant=tenant).order_by("created_at", "id"))
    measured = agent_metrics(tenant_id=tenant.pk, agent_ids=[a.slug for a in agents], window=window, now=now)
    if loop.type == AutonomicLoop.Type.RELIABILITY:
        return policies.reliability(config, agents, measured,
                                    lambda slug: weight_before_quarantine(tenant=tenant, agent_id=slug))
    if loop.type == AutonomicLoop.Type.COST:
        return policies.cost(config, agents, measured)
    return policies.performance(config, agents, measured)


def _start_playbooks(loop: AutonomicLoop, tenant: Tenant, actor: Actor, plan: policies.Plan,
                     now: datetime) -> list[dict[str, Any]]:
    """Starts each enabled playbook whose triggers name the decision's actions or alerts, once
    per tick (the idempotency key names the loop, the tick's time and the playbook)."""
    fired = []
    for playbook in playbooks_triggered(tenant=tenant, names={*plan.actions, *plan.alerts}):
        matched = sorted({*plan.actions, *plan.alerts}.intersection(playbook.triggers))
        entry: dict[str, Any] = {"id": playbook.slug, "matched": matched}
        try:
            with transaction.atomic():
                run, _ = playbook_start(
                    tenant=tenant, actor=actor, playbook=playbook,
                    input={"loopId": loop.slug, "action": plan.action, "alerts": plan.alerts},
                    idempotency_key=f"loop:{loop.slug}:{to_iso(now)}:{playbook.slug}")
                entry["runId"] = run.id
        except MaestroError as exc:  # a playbook that cannot start does not undo the decision
            entry["error"] = exc.message
            if isinstance(exc, PolicyDenied):
                # Every policy denial is a denied audit row and ledger entry: written in the
                # tick's unit, which commits (the refusal rule writes one only after a rollback).
                refusal_record(exc)
        fired.append(entry)
    return fired
