"""The task queue of a ``queue``-strategy session (DESIGN §4.1, the old server's queue and the
old CLI's ``maestro queue``): its tasks are processed first in, first out, one at a time.

A session uses the queue strategy when its metadata says so (``strategy: queue``, given at
spawn or registration); a spawn of such a session queues its tasks in order. Starting an item
reports the task ``working`` for the session, completing or failing it ``completed`` /
``failed`` (the task's ``sessionStatus``, with its timeline entry); skipping changes no task.

Every change holds the session's row lock (the lock order of the session services: session,
then tasks), so two workers of one session never both start an item or finish the same one.
Each records its audit row; the task changes send their ``task:updated``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import NotFound, ValidationFailed
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Resource
from maestro.write_path.services import Change, service
from orchestration.work.models import Session, SessionQueueItem, Task
from orchestration.work.selectors.queue import queue_next
from orchestration.work.selectors.sessions import session_get
from orchestration.work.selectors.tasks import tasks_get_many
from orchestration.work.services.tasks import task_update

QUEUE_STRATEGY = "queue"
STATUS_REPORTED = {SessionQueueItem.Status.PROCESSING: "working",
                   SessionQueueItem.Status.COMPLETED: "completed",
                   SessionQueueItem.Status.FAILED: "failed"}


def uses_queue(session: Session) -> bool:
    return (session.metadata or {}).get("strategy") == QUEUE_STRATEGY


def require_queue(session: Session) -> None:
    if not uses_queue(session):
        raise ValidationFailed(f"Session {session.id} does not use queue strategy")


def queue_fill(*, session: Session, tasks: list[Task]) -> None:
    """Queues ``tasks`` in order (inside the caller's unit, which holds the session)."""
    now = timezone.now()
    SessionQueueItem.objects.bulk_create([SessionQueueItem(session=session, task=t, added_at=now) for t in tasks])


@contextmanager
def _queue_change(*, tenant: Tenant, session_id: str, actor: Actor, action: Action) -> Iterator[tuple[Change, Session]]:
    change = Change(tenant_id=tenant.pk, actor=actor, action=action, resource_type=Resource.SESSION,
                    resource_id=session_id)
    with service(change):
        session = session_get(tenant=tenant, session_id=session_id, lock="no_key")
        require_queue(session)
        yield change, session


def _report(*, tenant: Tenant, actor: Actor, session: Session, item: SessionQueueItem) -> None:
    task_update(tenant=tenant, task_id=item.task_id, actor=actor,
                changes={"session_status": STATUS_REPORTED[SessionQueueItem.Status(item.status)],
                         "update_source": "session", "session_id": session.id})


def _current(session: Session) -> SessionQueueItem | None:
    return SessionQueueItem.objects.filter(session=session, status=SessionQueueItem.Status.PROCESSING).first()


def queue_push(*, tenant: Tenant, session_id: str, task_id: str, actor: Actor) -> SessionQueueItem:
    with _queue_change(tenant=tenant, session_id=session_id, actor=actor, action=Action.SESSION_QUEUE_PUSH) as (
            change, session):
        if task_id not in tasks_get_many(tenant=tenant, task_ids=[task_id]):
            raise NotFound("task", task_id)
        if SessionQueueItem.objects.filter(session=session, task_id=task_id).exists():
            raise ValidationFailed(f"Task {task_id} already in queue")
        item = SessionQueueItem.objects.create(session=session, task_id=task_id, added_at=timezone.now())
        change.record(details=f"Queued task {task_id}", project_id=session.project_id)
    return item


def queue_start(*, tenant: Tenant, session_id: str, actor: Actor) -> SessionQueueItem | None:
    """Starts the next queued item; None when nothing is queued."""
    with _queue_change(tenant=tenant, session_id=session_id, actor=actor, action=Action.SESSION_QUEUE_START) as (
            change, session):
        current = _current(session)
        if current is not None:
            raise ValidationFailed(f"Already processing task {current.task_id}. Complete or fail it first.")
        item = queue_next(session)
        if item is None:
            return None
        item.status, item.started_at = SessionQueueItem.Status.PROCESSING, timezone.now()
        item.save(update_fields=["status", "started_at"])
        _report(tenant=tenant, actor=actor, session=session, item=item)
        change.record(details=f"Started task {item.task_id}", project_id=session.project_id)
    return item


def _finish(*, tenant: Tenant, session_id: str, actor: Actor, action: Action, status: SessionQueueItem.Status,
            reason: str = "") -> SessionQueueItem:
    with _queue_change(tenant=tenant, session_id=session_id, actor=actor, action=action) as (change, session):
        item = _current(session)
        if item is None:
            raise ValidationFailed('No item currently being processed. Run "start" first.')
        item.status, item.completed_at, item.fail_reason = status, timezone.now(), reason
        item.save(update_fields=["status", "completed_at", "fail_reason"])
        _report(tenant=tenant, actor=actor, session=session, item=item)
        change.record(details=f"Task {item.task_id} {status}" + (f": {reason}" if reason else ""),
                      project_id=session.project_id)
    return item


def queue_complete(*, tenant: Tenant, session_id: str, actor: Actor) -> SessionQueueItem:
    return _finish(tenant=tenant, session_id=session_id, actor=actor, action=Action.SESSION_QUEUE_COMPLETE,
                   status=SessionQueueItem.Status.COMPLETED)


def queue_fail(*, tenant: Tenant, session_id: str, actor: Actor, reason: str = "") -> SessionQueueItem:
    return _finish(tenant=tenant, session_id=session_id, actor=actor, action=Action.SESSION_QUEUE_FAIL,
                   status=SessionQueueItem.Status.FAILED, reason=reason)


def queue_skip(*, tenant: Tenant, session_id: str, actor: Actor) -> SessionQueueItem:
    """Skips the item being processed, else the next queued one."""
    with _queue_change(tenant=tenant, session_id=session_id, actor=actor, action=Action.SESSION_QUEUE_SKIP) as (
            change, session):
        item = _current(session) or queue_next(session)
        if item is None:
            raise ValidationFailed("No items left in queue to skip")
        item.status, item.completed_at = SessionQueueItem.Status.SKIPPED, timezone.now()
        item.save(update_fields=["status", "completed_at"])
        change.record(details=f"Skipped task {item.task_id}", project_id=session.project_id)
    return item

