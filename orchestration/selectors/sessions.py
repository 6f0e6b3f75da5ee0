from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from orchestration.models import Session, SessionTask
from orchestration.selectors._one import lock_for, one


def _with_relations(qs: QuerySet[Session]) -> QuerySet[Session]:
    return qs.prefetch_related(
        "events", "timeline", Prefetch("task_links", queryset=SessionTask.objects.only("id", "task_id", "session_id"))
    )


def session_list(*, tenant: Any, project_id: str | None = None, task_id: str | None = None,
                 status: str | None = None, active: bool = False) -> QuerySet[Session]:
    qs = Session.objects.filter(tenant=tenant)
    if project_id:
        qs = qs.filter(project_id=project_id)
    if task_id:
        qs = qs.filter(task_links__task_id=task_id)
    if status:
        qs = qs.filter(status=status)
    if active:
        qs = qs.exclude(status__in=Session.ENDED)
    return _with_relations(qs)


def session_get(*, tenant: Any, session_id: str, for_update: bool = False, for_delete: bool = False) -> Session:
    """``for_update``: FOR NO KEY UPDATE (edits); ``for_delete``: FOR UPDATE (see project_get)."""
    return one(_with_relations(Session.objects.filter(tenant=tenant, id=session_id)), "session", session_id,
               lock=lock_for(for_update=for_update, for_delete=for_delete))
