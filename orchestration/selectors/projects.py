from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from maestro.exceptions import NotFound
from orchestration.models import Project


def project_list(*, tenant: Any) -> QuerySet[Project]:
    return Project.objects.filter(tenant=tenant)


def project_get(*, tenant: Any, project_id: str, for_update: bool = False) -> Project:
    qs = Project.objects.filter(tenant=tenant, id=project_id)
    if for_update:
        qs = qs.select_for_update()
    project = qs.first()
    if project is None:
        raise NotFound("project", project_id)
    return project
