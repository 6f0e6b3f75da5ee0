from __future__ import annotations

from django.db.models import QuerySet

from maestro.tenancy.models import Tenant
from orchestration.base.selectors import Lock, one
from orchestration.control.models.agents import AgentProfile


def agent_list(*, tenant: Tenant) -> QuerySet[AgentProfile]:
    return AgentProfile.objects.filter(tenant=tenant)


def agent_get(*, tenant: Tenant, agent_id: str, lock: Lock = None) -> AgentProfile:
    return one(AgentProfile.objects.filter(tenant=tenant, slug=agent_id), "agent", agent_id,
               lock=lock)
