from __future__ import annotations

from django.db.models import QuerySet

from maestro.tenancy.models import Tenant
from orchestration.base.selectors import Lock, one
from orchestration.control.models.playbooks import Playbook


def playbook_list(*, tenant: Tenant) -> QuerySet[Playbook]:
    return Playbook.objects.filter(tenant=tenant)


def playbook_get(*, tenant: Tenant, playbook_id: str, lock: Lock = None) -> Playbook:
    return one(Playbook.objects.filter(tenant=tenant, slug=playbook_id), "playbook", playbook_id,
               lock=lock)
