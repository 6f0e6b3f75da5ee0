from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from orchestration.models import AgentProfile
from orchestration.selectors._one import one


def agent_list(*, tenant: Any) -> QuerySet[AgentProfile]:
    return AgentProfile.objects.filter(tenant=tenant)


def agent_get(*, tenant: Any, agent_id: str, for_update: bool = False) -> AgentProfile:
    return one(AgentProfile.objects.filter(tenant=tenant, slug=agent_id), "agent", agent_id,
               lock="update" if for_update else None)
