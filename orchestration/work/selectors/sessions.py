from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from maestro.tenancy.models import Tenant
from orchestration.base.selectors import Lock, one
from orchestration.work.models import Session, SessionTask


def _with_relations(qs: QuerySet[Session]) -> QuerySet[Session]:
    return qs.prefetch_related(
        "events", "timeline", Prefetch("task_links", queryset=SessionTask.objects.only("id", "task_id", "session_id"))
    )


def session_list(*, tenant: Tenant) -> QuerySet[Session]:
    """The tenant's sessions (with their relations); the list's query parameters narrow it
    (orchestration.work.api.filters)."""
    return _with_relations(Session.objects.filter(tenant=tenant))


def session_get(*, tenant: Tenant, session_id: str, lock: Lock = None) -> Session:
    """``lock="no_key"`` for edits, ``"update"`` to delete (see project_get)."""
    return one(_with_relations(Session.objects.filter(tenant=tenant, id=session_id)), "session", session_id, lock=lock)
