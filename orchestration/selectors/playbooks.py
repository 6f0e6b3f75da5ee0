from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from orchestration.models import Playbook
from orchestration.selectors._one import one


def playbook_list(*, tenant: Any) -> QuerySet[Playbook]:
    return Playbook.objects.filter(tenant=tenant)


def playbook_get(*, tenant: Any, playbook_id: str, for_update: bool = False) -> Playbook:
    return one(Playbook.objects.filter(tenant=tenant, slug=playbook_id), "playbook", playbook_id,
               lock="update" if for_update else None)
