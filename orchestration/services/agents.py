"""Agent profiles: the router's view of each agent (model, health, metrics, routing weight)."""

from __future__ import annotations

import math
from typing import Any

from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import ValidationFailed
from orchestration.models import AgentProfile
from orchestration.representations_control import agent_repr
from orchestration.selectors.agents import agent_get
from orchestration.services.control_common import (
    ConfigKind,
    config_create,
    config_delete,
    config_update,
    require_choice,
)

EDITABLE = ("name", "role", "model", "status", "success_rate", "latency_p95", "cost_per_task", "routing_weight")
AGENT = ConfigKind(model=AgentProfile, resource_type="agent", label="Agent", present=agent_repr,
                   lock=lambda tenant, slug: agent_get(tenant=tenant, agent_id=slug, for_update=True))
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
    agent = AgentProfile(tenant=tenant, slug=agent_id, created_at=now, updated_at=now, **values)
    return config_create(AGENT, agent, actor=actor, action=action)


def agent_update(*, tenant: Any, actor: Actor, agent_id: str, changes: dict[str, Any],
                 expected_version: int | None = None) -> AgentProfile:
    """Partial update (the old ``updateAgent``); only the fields named in ``changes`` are written."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"Unknown agent field(s): {', '.join(sorted(unknown))}",
                               details={"fields": sorted(unknown)})
    _validate(changes)
    return config_update(AGENT, tenant=tenant, actor=actor, slug=agent_id, changes=changes,
                         expected_version=expected_version)


def agent_delete(*, tenant: Any, actor: Actor, agent_id: str, expected_version: int | None = None) -> None:
    config_delete(AGENT, tenant=tenant, actor=actor, slug=agent_id, expected_version=expected_version)
