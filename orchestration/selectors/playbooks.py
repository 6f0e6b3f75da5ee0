from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from maestro.exceptions import NotFound
from orchestration.models import Playbook


def playbook_list(*, tenant: Any) -> QuerySet[Playbook]:
    return Playbook.objects.filter(tenant=tenant)


def playbook_get(*, tenant: Any, playbook_id: str, for_update: bool = False) -> Playbook:
    qs = Playbook.objects.filter(tenant=tenant, slug=playbook_id)
    if for_update:
        qs = qs.select_for_update()
    playbook = qs.first()
    if playbook is None:
        raise NotFound("playbook", playbook_id)
    return playbook
