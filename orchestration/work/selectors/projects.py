from __future__ import annotations

from django.db.models import QuerySet

from maestro.tenancy.models import Tenant
from orchestration.base.selectors import Lock, one
from orchestration.work.models import Project


def project_list(*, tenant: Tenant) -> QuerySet[Project]:
    return Project.objects.filter(tenant=tenant)


def project_get(*, tenant: Tenant, project_id: str, lock: Lock = None) -> Project:
    """``lock="no_key"`` for an edit of non-key columns (FOR NO KEY UPDATE does not block the
    foreign-key checks of concurrent inserts of tasks and sessions); ``"update"`` to delete."""
    return one(Project.objects.filter(tenant=tenant, id=project_id), "project", project_id, lock=lock)


def project_exists(tenant_id: int, project_id: str) -> bool:
    """May a stream of this tenant be narrowed to ``project_id`` (realtime subscriptions)."""
    return Project.objects.filter(tenant_id=tenant_id, id=project_id).exists()
