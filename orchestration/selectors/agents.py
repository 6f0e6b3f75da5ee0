from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from maestro.exceptions import NotFound
from orchestration.models import AgentProfile


def agent_list(*, tenant: Any) -> QuerySet[AgentProfile]:
    return AgentProfile.objects.filter(tenant=tenant)


def agent_get(*, tenant: Any, agent_id: str, for_update: bool = False) -> AgentProfile:
    qs = AgentProfile.objects.filter(tenant=tenant, slug=agent_id)
    if for_update:
        qs = qs.select_for_update()
    agent = qs.first()
    if agent is None:
        raise NotFound("agent", agent_id)
    return agent
