"""Agent profiles: the router's view of each agent (model, health, metrics, routing weight)."""

from __future__ import annotations

import math
from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from maestro.actors import Actor
from maestro.exceptions import Conflict, ValidationFailed
from maestro.write_path import record, service
from orchestration.models import AgentProfile
from orchestration.representations_control import agent_repr
from orchestration.selectors.agents import agent_get
from orchestration.services.audit import refusals_audited
from orchestration.services.control_common import check_version, clean_or_400, require_choice

EDITABLE = ("name", "role", "model", "status", "success_rate", "latency_p95", "cost_per_task", "routing_weight")
_NUMBERS = {"success_rate": (0.0, 100.0), "latency_p95": (0.0, None), "cost_per_task": (0.0, None)}


def _validate(values: dict[str, Any]) -> None:
    """The model's constraints would refuse these too; checking first gives a clear message
    (and keeps a string or NaN from ever reaching the database)."""
    if "status" in values:
        require_choice(values["status"], AgentProfile.Status.values, "status")
    for field, (low, high) in _NUMBERS.items():
        if field not in values:
            continue
        value = values[field]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValidationFailed(f"{field} must be a number", details={"field": field, "value": value})
        if value < low or (high is not None and value > high):
            bound = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
            raise ValidationFailed(f"{field} must be {bound}", details={"field": field, "value": value})
    if "routing_weight" in values:
        weight = values["routing_weight"]
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise ValidationFailed("routing_weight must be an integer between 0 and 100",
                                   details={"field": "routing_weight", "value": weight})


def agent_create(*, tenant: Any, actor: Actor, agent_id: str, name: str, role: str = "", model: str = "",
                 status: str = AgentProfile.Status.HEALTHY, success_rate: float = 100.0, latency_p95: float = 0.0,
                 cost_per_task: float = 0.0, routing_weight: int = 100, action: str = "agent.create") -> AgentProfile:
    values = {"name": name, "role": role, "model": model, "status": status, "success_rate": success_rate,
              "latency_p95": latency_p95, "cost_per_task": cost_per_task, "routing_weight": routing_weight}
    _validate(values)
    now = timezone.now()
    with refusals_audited(tenant=tenant, actor=actor, action=action, resource_type="agent", resource_id=agent_id):
        try:
            with service():
                if AgentProfile.objects.filter(tenant=tenant, slug=agent_id).exists():
                    raise Conflict(f"Agent {agent_id} already exists", details={"id": agent_id, "policy": "unique_id"})
                agent = AgentProfile(tenant=tenant, slug=agent_id, created_at=now, updated_at=now, **values)
                clean_or_400(agent, exclude=["tenant"])
                agent.save(force_insert=True)
                record(tenant=tenant, actor=actor, action=action, resource_type="agent", resource_id=agent.slug,
                       details=f"Created agent {agent.slug}", event=("agent:created", agent_repr(agent)))
        except IntegrityError:
            raise Conflict(f"Agent {agent_id} already exists",
                           details={"id": agent_id, "policy": "unique_id"}) from None
    return agent


def agent_update(*, tenant: Any, actor: Actor, agent_id: str, changes: dict[str, Any],
                 expected_version: int | None = None) -> AgentProfile:
    """Partial update (the old ``updateAgent``); only the fields named in ``changes`` are written."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"Unknown agent field(s): {', '.join(sorted(unknown))}",
                               details={"fields": sorted(unknown)})
    _validate(changes)
    with refusals_audited(tenant=tenant, actor=actor, action="agent.update", resource_type="agent",
                          resource_id=agent_id):
        with service():
            agent = agent_get(tenant=tenant, agent_id=agent_id, for_update=True)
            check_version(agent, expected_version)
            for field, value in changes.items():
                setattr(agent, field, value)
            clean_or_400(agent, exclude=["tenant"])
            agent.version += 1
            agent.updated_at = timezone.now()
            agent.save(update_fields=[*changes, "version", "updated_at"])
            record(tenant=tenant, actor=actor, action="agent.update", resource_type="agent", resource_id=agent.slug,
                   details=f"Updated agent {agent.slug}: {', '.join(sorted(changes)) or 'nothing'}",
                   event=("agent:updated", agent_repr(agent)))
    return agent


def agent_delete(*, tenant: Any, actor: Actor, agent_id: str, expected_version: int | None = None) -> None:
    with refusals_audited(tenant=tenant, actor=actor, action="agent.delete", resource_type="agent",
                          resource_id=agent_id):
        with service():
            agent = agent_get(tenant=tenant, agent_id=agent_id, for_update=True)
            check_version(agent, expected_version)
            agent.delete()
            record(tenant=tenant, actor=actor, action="agent.delete", resource_type="agent", resource_id=agent_id,
                   details=f"Deleted agent {agent_id}", event=("agent:deleted", {"id": agent_id}))
