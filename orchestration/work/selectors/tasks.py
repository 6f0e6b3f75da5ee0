from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection, connections
from django.db.models import F, OuterRef, Prefetch, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import JSONObject
from django.db.models.query import ModelIterable

from maestro.core.compiled import CompiledRead
from maestro.core.exceptions import NotFound
from maestro.core.instances import instance
from maestro.tenancy.models import Tenant
from orchestration.base.selectors import Lock, one
from orchestration.work.models import SessionTask, Subtask, Task, TaskRelations, TaskTimelineEvent

_TIMELINE_FIELDS = ("pk_id", "id", "type", "timestamp", "message", "session_id")
_SUBTASK_FIELDS = ("id", "title", "description", "completed", "order", "created_at", "updated_at", "completed_at")


def _rows(model: type[Any], fields: tuple[str, ...], order: tuple[str, ...]) -> ArraySubquery:
    """The task's rows of ``model`` as an array of JSON objects, in the model's order."""
    rows = model.objects.filter(task_id=OuterRef("pk")).order_by(*order)
    return ArraySubquery(rows.values(row=JSONObject(**{f: F(f) for f in fields})))


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _attach_relations(task: Task) -> Task:
    """Hands the task the relations read in its row (``task.relations``), made without
    ``Model.__init__`` (maestro.core.instances: a page of 100 tasks makes some 400)."""
    read, db = task.__dict__, task._state.db
    timeline = [instance(TaskTimelineEvent, {**row, "task_id": task.pk, "timestamp": _when(row["timestamp"])}, db=db)
                for row in read.pop("_timeline_rows")]
    subtasks = [instance(Subtask, {**row, "task_id": task.pk, "created_at": _when(row["created_at"]),
                                   "updated_at": _when(row["updated_at"]),
                                   "completed_at": _when(row["completed_at"])}, db=db)
                for row in read.pop("_subtask_rows")]
    task.relations = TaskRelations(timeline=timeline, subtasks=subtasks, session_ids=read.pop("_session_ids"))
    return task


class _TaskWithRelations(ModelIterable[Task]):
    """Tasks read with their timeline, subtasks and session links in the same row (PostgreSQL:
    one query for a task or a page of them, where prefetching took four round trips). Each task
    carries them as ``task.relations`` (:class:`TaskRelations`), which the representation
    shows; the related managers (``task.subtasks`` …) still query, for a service that counts."""

    def __iter__(self) -> Any:
        for task in super().__iter__():
            yield _attach_relations(task)


def _relation_subqueries() -> dict[str, ArraySubquery]:
    return {
        "_timeline_rows": _rows(TaskTimelineEvent, _TIMELINE_FIELDS, ("timestamp", "pk_id")),
        "_subtask_rows": _rows(Subtask, _SUBTASK_FIELDS, ("order", "created_at", "id")),
        # A link names its session by the session's id (unique per tenant), not its key.
        "_session_ids": ArraySubquery(SessionTask.objects.filter(task_id=OuterRef("pk")).order_by("id")
                                      .values("session__id")),
    }


_relations_sql: dict[str, dict[str, RawSQL]] = {}


def _relations(alias: str) -> dict[str, RawSQL]:
    """The three relation subqueries as SQL, compiled once per process and database: building and
    compiling them per request was over a third of a task page's CPU (17.7 → 10.5 ms a page in
    one process). Like maestro.core.compiled, but for annotations of a query that still varies
    (filters, cursor, order, limit). They refer to the task as the outer query's base
    table, which every task query has (they are never nested in another query)."""
    found = _relations_sql.get(alias)
    if found is None:
        query = Task.objects.using(alias).annotate(**_relation_subqueries()).query
        compiler = query.get_compiler(using=alias)
        found = {}
        for name, expression in query.annotations.items():
            sql, params = compiler.compile(expression)
            found[name] = RawSQL(sql, tuple(params), output_field=expression.output_field)
        _relations_sql[alias] = found
    return found


def _with_relations(qs: QuerySet[Task]) -> QuerySet[Task]:
    if connections[qs.db].vendor == "postgresql":
        qs = qs.annotate(**_relations(qs.db))
        qs._iterable_class = _TaskWithRelations
        return qs
    return qs.prefetch_related(  # the embedded default (SQLite)
        "timeline", "subtasks",
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


# The read agents poll (GET /api/tasks/{id}): compiled once per process (maestro.core.compiled).
_TASK_READ: CompiledRead[Task] = CompiledRead(
    lambda tenant_id, task_id: _with_relations(Task.objects.filter(tenant_id=tenant_id, id=task_id))[:1],
    tenant_id=-7_362_911, task_id="\x01task-marker")


def task_get(*, tenant: Tenant, task_id: str, lock: Lock = None) -> Task:
    """``lock="no_key"`` for edits, ``"update"`` to delete (see project_get)."""
    if lock is None and connection.vendor == "postgresql":
        found = _TASK_READ.rows(tenant_id=tenant.pk, task_id=task_id)
        if not found:
            raise NotFound("task", task_id)
        return _attach_relations(found[0])
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
