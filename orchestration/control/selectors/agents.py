from __future__ import annotations

from collections.abc import Callable

from django.db.models import QuerySet

from maestro.tenancy.models import Tenant
from orchestration.base.selectors import Lock, one
from orchestration.control.models.agents import AgentProfile


def agent_list(*, tenant: Tenant) -> QuerySet[AgentProfile]:
    return AgentProfile.objects.filter(tenant=tenant)


def agent_get(*, tenant: Tenant, agent_id: str, lock: Lock = None) -> AgentProfile:
    return one(AgentProfile.objects.filter(tenant=tenant, slug=agent_id), "agent", agent_id,
               lock=lock)


def agent_route(*, tenant: Tenant, rng: Callable[[], float]) -> AgentProfile | None:
    """Weighted choice among the tenant's ``healthy`` agents with ``routing_weight`` > 0 (DESIGN
    §7.2): an agent of weight w is chosen with probability w / (sum of weights); ``None`` when
    no agent is eligible. ``rng`` returns a float in [0, 1) (injectable: tests are deterministic)."""
    agents = list(AgentProfile.objects.filter(tenant=tenant, status=AgentProfile.Status.HEALTHY,
                                              routing_weight__gt=0).order_by("slug"))
    total = sum(a.routing_weight for a in agents)
    if total <= 0:
        return None
    point = rng() * total
    for agent in agents:
        point -= agent.routing_weight
        if point < 0:
            return agent
    return agents[-1]
