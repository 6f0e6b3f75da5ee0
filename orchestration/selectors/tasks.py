from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from maestro.exceptions import NotFound
from orchestration.models import SessionTask, Task


def _with_relations(qs: QuerySet[Task]) -> QuerySet[Task]:
    return qs.prefetch_related(
        "timeline", "subtasks", Prefetch("session_links", queryset=SessionTask.objects.only("id", "task_id", "session_id"))
    )


def task_list(*, tenant: Any, project_id: str | None = None, status: str | None = None,
              parent_id: str | None = None, roots_only: bool = False, session_id: str | None = None) -> QuerySet[Task]:
    qs = Task.objects.filter(tenant=tenant)
    if project_id:
        qs = qs.filter(project_id=project_id)
    if status:
        qs = qs.filter(status=status)
    if roots_only:
        qs = qs.filter(parent__isnull=True)
    elif parent_id:
        qs = qs.filter(parent_id=parent_id)
    if session_id:
        qs = qs.filter(session_links__session_id=session_id)
    return _with_relations(qs)


def task_get(*, tenant: Any, task_id: str, for_update: bool = False) -> Task:
    qs = Task.objects.filter(tenant=tenant, id=task_id)
    if for_update:
        qs = qs.select_for_update()
    task = _with_relations(qs).first()
    if task is None:
        raise NotFound("task", task_id)
    return task


def tasks_get_many(*, tenant: Any, task_ids: list[str]) -> dict[str, Task]:
    return {t.id: t for t in Task.objects.filter(tenant=tenant, id__in=task_ids)}
