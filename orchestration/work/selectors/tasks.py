from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from maestro.tenancy.models import Tenant
from orchestration.base.selectors import Lock, one
from orchestration.work.models import SessionTask, Task


def _with_relations(qs: QuerySet[Task]) -> QuerySet[Task]:
    return qs.prefetch_related(
        "timeline", "subtasks",
        # A link names its session by the session's id (unique per tenant), not its key.
        Prefetch("session_links",
                 queryset=SessionTask.objects.select_related("session").only("id", "task_id", "session__id")),
    )


def task_list(*, tenant: Tenant, parent_id: str | None = None) -> QuerySet[Task]:
    """The tenant's tasks (with their relations); ``parent_id``: the children of that task.
    The list's query parameters narrow it further (orchestration.work.api.filters)."""
    qs = Task.objects.filter(tenant=tenant)
    if parent_id:
        qs = qs.filter(parent_id=parent_id)
    return _with_relations(qs)


def task_get(*, tenant: Tenant, task_id: str, lock: Lock = None) -> Task:
    """``lock="no_key"`` for edits, ``"update"`` to delete (see project_get)."""
    return one(_with_relations(Task.objects.filter(tenant=tenant, id=task_id)), "task", task_id, lock=lock)


def task_list_by_ids(*, tenant: Tenant, task_ids: list[str]) -> QuerySet[Task]:
    return _with_relations(Task.objects.filter(tenant=tenant, id__in=task_ids))


def tasks_in_order(*, tenant: Tenant, task_ids: list[str]) -> list[Task]:
    """The tasks named, in the order given (missing ones left out)."""
    found = tasks_get_many(tenant=tenant, task_ids=task_ids)
    return [found[t] for t in task_ids if t in found]


def tasks_get_many(*, tenant: Tenant, task_ids: list[str]) -> dict[str, Task]:
    return {t.id: t for t in Task.objects.filter(tenant=tenant, id__in=task_ids)}


def tasks_lock(*, tenant: Tenant, task_ids: list[str]) -> set[str]:
    """Row-locks the tasks (FOR NO KEY UPDATE) in id order — the one lock order of the
    session/task services is: session, then its tasks by id, then the link rows — and returns
    the ids that still exist."""
    if not task_ids:
        return set()
    return set(Task.objects.filter(tenant=tenant, id__in=task_ids).order_by("id").select_for_update(no_key=True)
               .values_list("id", flat=True))
