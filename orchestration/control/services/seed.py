"""The old system's defaults, seeded once per tenant: three loops, three agents, ``exp-001``,
``pb-restart-pods`` (the values of its sample control-state file, copied here) and an empty
default merge train. A SeedMarker per object means an operator's later edit or deletion is
never undone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from maestro.core.actors import Actor
from maestro.core.wire import from_iso
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action
from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.experiments import Experiment
from orchestration.control.models.loops import AutonomicLoop
from orchestration.control.models.merge_trains import MergeTrain
from orchestration.control.models.playbooks import Playbook
from orchestration.control.models.seed import SeedMarker
from orchestration.control.services.agents import agent_create
from orchestration.control.services.experiments import experiment_create
from orchestration.control.services.loops import loop_create
from orchestration.control.services.merge_trains import merge_train_create
from orchestration.control.services.playbooks import playbook_create

LOOPS = [
    {"loop_id": "cost-optimization", "name": "Cost Optimization Loop", "type": "cost", "status": "active",
     "last_decision": "Shifted 20% traffic to Haiku for non-critical tasks", "last_run": "2024-02-01T12:05:23.456000Z",
     "config": {"threshold": 0.8, "interval": "15m"}},
    {"loop_id": "reliability-guardian", "name": "Reliability Guardian", "type": "reliability", "status": "active",
     "last_decision": "Quarantined node agent-worker-3 due to high error rate",
     "last_run": "2024-02-01T12:05:23.456000Z", "config": {"maxRetries": 3}},
    {"loop_id": "safety-sentinel", "name": "Safety Sentinel", "type": "safety", "status": "paused",
     "last_decision": "Blocked 2 prompts for PII violation", "last_run": "2024-02-01T11:05:23.456000Z",
     "config": {"strictMode": True}},
]
AGENTS = [
    {"agent_id": "planner", "name": "Planner", "role": "Orchestration", "model": "gpt-4-turbo",
     "status": "healthy", "routing_weight": 100},
    {"agent_id": "coder", "name": "Coder", "role": "Implementation", "model": "claude-3-opus",
     "status": "healthy", "routing_weight": 80},
    {"agent_id": "reviewer", "name": "Reviewer", "role": "Quality Assurance", "model": "gpt-4o",
     "status": "healthy", "routing_weight": 100},
]
EXPERIMENTS = [
    {"experiment_id": "exp-001", "name": "Planner Agent V2",
     "hypothesis": "New prompt structure reduces planning latency by 15%", "status": "running",
     "variants": ["control", "v2-prompt"], "metrics": {"latency": -12, "successRate": 2},
     "start_date": "2024-01-30T12:05:23.456000Z"},
]
PLAYBOOKS = [
    {"playbook_id": "pb-restart-pods", "name": "Restart Stuck Pods",
     "description": "Automatically restarts pods that are in CrashLoopBackOff for > 10m",
     "triggers": ["pod_crash_loop"], "actions": ["k8s.delete_pod"], "is_enabled": True},
]
MERGE_TRAINS = [{"train_id": "mt-main", "status": "active"}]


def _loop(tenant: Tenant, actor: Actor, spec: dict[str, Any]) -> None:
    loop_create(tenant=tenant, actor=actor, action=Action.LOOP_SEED,
                **{**spec, "last_run": from_iso(spec["last_run"])})


def _experiment(tenant: Tenant, actor: Actor, spec: dict[str, Any]) -> None:
    experiment_create(tenant=tenant, actor=actor, action=Action.EXPERIMENT_SEED,
                      **{**spec, "start_date": from_iso(spec["start_date"])})


# (kind, model, the spec key of its id, specs, how one spec is created)
DEFAULTS: list[tuple[str, type[AutonomicLoop | AgentProfile | Experiment | Playbook | MergeTrain], str,
                     list[dict[str, Any]], Callable[[Tenant, Actor, dict[str, Any]], object]]] = [
    ("loop", AutonomicLoop, "loop_id", LOOPS, _loop),
    ("agent", AgentProfile, "agent_id", AGENTS,
     lambda t, a, s: agent_create(tenant=t, actor=a, action=Action.AGENT_SEED, **s)),
    ("experiment", Experiment, "experiment_id", EXPERIMENTS, _experiment),
    ("playbook", Playbook, "playbook_id", PLAYBOOKS,
     lambda t, a, s: playbook_create(tenant=t, actor=a, action=Action.PLAYBOOK_SEED, **s)),
    ("merge_train", MergeTrain, "train_id", MERGE_TRAINS,
     lambda t, a, s: merge_train_create(tenant=t, actor=a, action=Action.MERGE_TRAIN_SEED, **s)),
]


def seed_defaults(*, tenant: Tenant, actor: Actor) -> dict[str, list[str]]:
    """Creates each default whose id was never seeded into the tenant and does not exist yet
    (e.g. imported). Returns ``{"created": [...], "skipped": [...]}`` as ``kind:id``."""
    created: list[str] = []
    skipped: list[str] = []
    with transaction.atomic():
        # Two processes starting at once seed one after the other, not twice.
        Tenant.objects.select_for_update(no_key=True).filter(pk=tenant.pk).first()
        seeded = set(SeedMarker.objects.filter(tenant=tenant).values_list("kind", "slug"))
        for kind, model, id_key, specs, create in DEFAULTS:
            for spec in specs:
                slug = spec[id_key]
                if (kind, slug) in seeded:
                    skipped.append(f"{kind}:{slug}")
                    continue
                if not model.objects.filter(tenant=tenant, slug=slug).exists():
                    create(tenant, actor, spec)
                    created.append(f"{kind}:{slug}")
                else:
                    skipped.append(f"{kind}:{slug}")
                SeedMarker.objects.create(tenant=tenant, kind=kind, slug=slug)
    return {"created": created, "skipped": skipped}
