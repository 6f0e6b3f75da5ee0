from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet

from orchestration.models import Project
from orchestration.selectors._one import lock_for, one


def project_list(*, tenant: Any) -> QuerySet[Project]:
    return Project.objects.filter(tenant=tenant)


def project_get(*, tenant: Any, project_id: str, for_update: bool = False, for_delete: bool = False) -> Project:
    """``for_update`` row-locks for an edit of non-key columns (FOR NO KEY UPDATE, which does not
    block the foreign-key checks of concurrent inserts of tasks and sessions); ``for_delete``
    takes the full FOR UPDATE lock."""
    return one(Project.objects.filter(tenant=tenant, id=project_id), "project", project_id,
               lock=lock_for(for_update=for_update, for_delete=for_delete))


def key_share(model: Any, ids: list[str]) -> set[str]:
    """Takes FOR KEY SHARE row locks on the rows a new row is about to reference and returns the
    ids that still exist.

    The foreign keys are checked at commit, i.e. after the write path took the tenant's event
    counter; without this early lock an insert (holding the counter) would wait at commit for
    a concurrent delete of its parent (waiting for the counter) — a deadlock. Taken here, the
    insert either waits for the delete to finish (and then sees the parent gone) or makes the
    delete wait (and then see the new child)."""
    if not ids:
        return set()
    qs = model.objects.filter(pk__in=ids).order_by("pk")
    if connection.vendor != "postgresql":
        return set(qs.values_list("pk", flat=True))
    sql, params = qs.values_list("pk").query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute(f"{sql} FOR KEY SHARE", params)
        return {row[0] for row in cur.fetchall()}
