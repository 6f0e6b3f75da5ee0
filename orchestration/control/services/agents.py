"""Agent profiles: the router's view of each agent (model, health, routing weight). Their metrics
are counted from runs (selectors.agents.agent_metrics), so nothing here writes them."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import ValidationFailed
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Resource
from orchestration.base import entities
from orchestration.control.models.agents import AgentProfile
from orchestration.control.representations import agent_repr
from orchestration.control.selectors.agents import agent_get

EDITABLE = ("name", "role", "model", "status", "routing_weight")
AGENT: entities.Kind[AgentProfile] = entities.Kind(
    model=AgentProfile, resource=Resource.AGENT, label="Agent", present=agent_repr,
    lookup=lambda tenant, ident, lock: agent_get(tenant=tenant, agent_id=ident, lock=lock),
)


def _validate(values: dict[str, Any]) -> None:
    """The model's constraints would refuse these too; checking first gives a clear message."""
    if "status" in values:
        entities.require_choice(values["status"], AgentProfile.Status.values, "status")
    if "routing_weight" in values:
        weight = values["routing_weight"]
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise ValidationFailed("routing_weight must be an integer between 0 and 100",
                                   details={"field": "routing_weight", "value": weight})


def agent_create(*, tenant: Tenant, actor: Actor, agent_id: str, name: str, role: str = "", model: str = "",
                 status: str = AgentProfile.Status.HEALTHY, routing_weight: int = 100,
                 action: Action = Action.AGENT_CREATE) -> AgentProfile:
    values = {"name": name, "role": role, "model": model, "status": status, "routing_weight": routing_weight}
    _validate(values)
    now = timezone.now()
    agent = AgentProfile(tenant=tenant, slug=agent_id, created_at=now, updated_at=now, **values)
    return entities.create(AGENT, agent, tenant=tenant, actor=actor, action=action, details=f"Created agent {agent_id}")


def agent_update(*, tenant: Tenant, actor: Actor, agent_id: str, changes: dict[str, Any],
                 expected_version: int | None = None) -> AgentProfile:
    """Partial update (the old ``updateAgent``); only the fields named in ``changes`` are written."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"Unknown agent field(s): {', '.join(sorted(unknown))}",
                               details={"fields": sorted(unknown)})
    _validate(changes)
    return entities.update(AGENT, tenant=tenant, actor=actor, ident=agent_id, changes=changes,
                           expected_version=expected_version)


def agent_delete(*, tenant: Tenant, actor: Actor, agent_id: str, expected_version: int | None = None) -> None:
    entities.delete(AGENT, tenant=tenant, actor=actor, ident=agent_id, expected_version=expected_version)
