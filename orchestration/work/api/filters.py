"""Query parameters of the task and session lists (DESIGN §4.1)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet

from maestro.api.filters import ChoiceParameter, FilterSet
from orchestration.work.models import Session, Task


class TaskFilter(FilterSet):
    projectId = django_filters.CharFilter(field_name="project_id")
    # ``todo`` is the old CLI's name for pending (docs/decisions.md).
    status = ChoiceParameter(field_name="status", choices=Task.Status.values, aliases={"todo": Task.Status.PENDING})
    parentId = django_filters.CharFilter(method="by_parent", help_text="a task id, or null for root tasks")
    sessionId = django_filters.CharFilter(field_name="session_links__session__id")

    class Meta:
        model = Task
        fields: list[str] = []

    def by_parent(self, qs: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        return qs.filter(parent__isnull=True) if value == "null" else qs.filter(parent_id=value)


class SessionFilter(FilterSet):
    projectId = django_filters.CharFilter(field_name="project_id")
    taskId = django_filters.CharFilter(field_name="task_links__task_id")
    status = ChoiceParameter(field_name="status", choices=Session.Status.values)
    active = django_filters.CharFilter(method="only_active", help_text="true: not completed, failed or stopped")

    class Meta:
        model = Session
        fields: list[str] = []

    def only_active(self, qs: QuerySet[Session], name: str, value: Any) -> QuerySet[Session]:
        # The old server read only ``active=true``; any other value lists every session.
        return qs.exclude(status__in=Session.ENDED) if value == "true" else qs
