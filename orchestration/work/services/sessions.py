"""Sessions and their links to tasks.

Lock order (every function here, and task_delete, follows it so that concurrent writers wait
instead of deadlocking): the session row, then its tasks in id order, then the link rows; the
tenant's event counter is always last (see write_path).

Events: each change writes its audit row and its own event first (``session:created|updated|
deleted``), then per task whose link changed ``session:task_added|removed`` (only when an
existing session gains or loses the task), ``task:session_added|removed`` and ``task:updated``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import NotFound, ValidationFailed
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Event, Resource
from maestro.write_path.services import emit, events_mark, service
from orchestration.base import entities
from orchestration.base.selectors import key_share
from orchestration.work.ids import new_id
from orchestration.work.manifest import session_manifest
from orchestration.work.models import (
    Project,
    Session,
    SessionEvent,
    SessionTask,
    SessionTimelineEvent,
    Task,
    TaskTimelineEvent,
)
from orchestration.work.representations import session_repr, task_repr
from orchestration.work.selectors.sessions import session_get
from orchestration.work.selectors.tasks import task_list_by_ids, tasks_get_many, tasks_in_order, tasks_lock
from orchestration.work.services.queue import queue_fill, uses_queue

SESSION_FIELDS = ("name", "agent_id", "status", "env", "metadata", "hostname", "platform")

# (change, task id) in the order they happened; change is "added" or "removed".
LinkChanges = list[tuple[str, str]]
_LINK_EVENTS = {"added": (Event.SESSION_TASK_ADDED, Event.TASK_SESSION_ADDED),
                "removed": (Event.SESSION_TASK_REMOVED, Event.TASK_SESSION_REMOVED)}

SESSION: entities.Kind[Session] = entities.Kind(
    model=Session, resource=Resource.SESSION, label="Session", ident="id",
    lookup=lambda tenant, ident, lock: session_get(tenant=tenant, session_id=ident, lock=lock),
    present=session_repr, scope=lambda session: session.project_id,
)


def _tasks_of_project(*, tenant: Tenant, project_id: str, task_ids: list[str]) -> list[Task]:
    """Locks the tasks (id order) and returns them in the order given, without duplicates;
    every id must name a task of this tenant and project."""
    task_ids = list(dict.fromkeys(task_ids))
    tasks_lock(tenant=tenant, task_ids=task_ids)
    found = tasks_get_many(tenant=tenant, task_ids=task_ids)
    missing = [t for t in task_ids if t not in found]
    if missing:
        raise ValidationFailed("taskIds name unknown tasks", code="TASK_NOT_FOUND", status_code=404,
                               details={"taskIds": missing})
    foreign = [t for t in task_ids if found[t].project_id != project_id]
    if foreign:
        raise ValidationFailed("taskIds name tasks of another project", details={"taskIds": foreign})
    return [found[t] for t in task_ids]


def _link(*, session: Session, tasks: list[Task], now: datetime, changes: LinkChanges) -> None:
    """Links the tasks not linked yet; each gains one ``session_started`` entry. Idempotent
    because the caller holds the session's row lock: no one else can link to it meanwhile."""
    existing = set(SessionTask.objects.filter(session=session, task__in=tasks).values_list("task_id", flat=True))
    fresh = [t for t in tasks if t.id not in existing]
    if not fresh:
        return
    SessionTask.objects.bulk_create([SessionTask(session=session, task=t) for t in fresh])
    TaskTimelineEvent.objects.bulk_create([
        TaskTimelineEvent(task=t, type=TaskTimelineEvent.Type.SESSION_STARTED, timestamp=now,
                          message=f"Session {session.id} started", session_id=session.id)
        for t in fresh
    ])
    Task.objects.filter(id__in=[t.id for t in fresh]).update(updated_at=now, version=F("version") + 1)
    changes.extend(("added", t.id) for t in fresh)


def _unlink(*, session: Session, task_ids: list[str], now: datetime, changes: LinkChanges,
            reason: str = "removed") -> None:
    linked = set(SessionTask.objects.filter(session=session, task_id__in=task_ids).values_list("task_id", flat=True))
    gone = [t for t in task_ids if t in linked]
    if not gone:
        return
    SessionTask.objects.filter(session=session, task_id__in=gone).delete()
    TaskTimelineEvent.objects.bulk_create([
        TaskTimelineEvent(task_id=t, type=TaskTimelineEvent.Type.SESSION_ENDED, timestamp=now,
                          message=f"Session {session.id} {reason}", session_id=session.id)
        for t in gone
    ])
    Task.objects.filter(id__in=gone).update(updated_at=now, version=F("version") + 1)
    changes.extend(("removed", t) for t in gone)


def _emit_link_events(*, tenant: Tenant, session: Session, changes: LinkChanges, session_side: bool) -> None:
    tasks = {t.id: t for t in task_list_by_ids(tenant=tenant, task_ids=[t for _, t in changes])}
    for change, task_id in changes:
        pair = {"sessionId": session.id, "taskId": task_id}
        session_event, task_event = _LINK_EVENTS[change]
        if session_side:
            emit(tenant_id=tenant.pk, type=session_event, data=pair, project_id=session.project_id)
        emit(tenant_id=tenant.pk, type=task_event, data=pair, project_id=session.project_id)
        if task_id in tasks:
            emit(tenant_id=tenant.pk, type=Event.TASK_UPDATED, data=task_repr(tasks[task_id]),
                 project_id=session.project_id)


def session_create(*, tenant: Tenant, actor: Actor, project: Project, task_ids: list[str],
                   session_id: str | None = None, name: str | None = None, agent_id: str | None = None,
                   status: str = Session.Status.RUNNING, env: dict[str, str] | None = None,
                   metadata: dict[str, Any] | None = None, hostname: str = "", platform: str = "",
                   action: Action = Action.SESSION_CREATE) -> Session:
    now = timezone.now()
    session = Session(tenant=tenant, project=project, agent_id=agent_id, status=status, env=env or {},
                      metadata=metadata or {}, hostname=hostname, platform=platform, started_at=now,
                      last_activity=now, completed_at=now if status in Session.ENDED else None)
    if session_id:
        session.id = session_id
    session.name = name or f"Session {session.id}"
    changes: LinkChanges = []
    tasks: list[Task] = []

    def references(new: Session) -> None:
        if not key_share(Project, [project.id]):
            raise NotFound("project", project.id)
        tasks.extend(_tasks_of_project(tenant=tenant, project_id=project.id, task_ids=task_ids))

    def with_links(saved: Session) -> Session:
        _link(session=saved, tasks=tasks, now=now, changes=changes)
        if uses_queue(saved):  # a queue-strategy session works its tasks in the order given
            queue_fill(session=saved, tasks=tasks)
        return saved

    with service(SESSION.change(tenant=tenant, actor=actor, action=action, ident=session.id)):
        entities.create(SESSION, session, tenant=tenant, actor=actor, action=action,
                        details=f"Created session {session.name} for {len(dict.fromkeys(task_ids))} task(s)",
                        exclude=["tenant", "project"], prepare=references, after_save=with_links, shown=SESSION.fresh,
                        check_exists=bool(session_id))
        _emit_link_events(tenant=tenant, session=session, changes=changes, session_side=False)
    return session


def session_update(*, tenant: Tenant, session_id: str, actor: Actor, changes: dict[str, Any],
                   task_ids: list[str] | None = None, events: list[dict[str, Any]] | None = None,
                   timeline: list[dict[str, Any]] | None = None, action: Action = Action.SESSION_UPDATE,
                   expected_version: int | None = None) -> Session:
    """Partial update; ``events`` and ``timeline`` are appended; ``task_ids`` replaces the
    linked set (removed tasks get ``session_ended``, added ones ``session_started``)."""
    now = timezone.now()
    with entities.editing(SESSION, tenant=tenant, actor=actor, ident=session_id, action=action,
                          lock="no_key", expected_version=expected_version) as edit:
        session = edit.obj
        link_changes: LinkChanges = []
        if task_ids is not None:
            current = [link.task_id for link in session.task_links.all()]
            tasks_lock(tenant=tenant, task_ids=list(dict.fromkeys([*current, *task_ids])))
            wanted = _tasks_of_project(tenant=tenant, project_id=session.project_id, task_ids=task_ids)
            wanted_ids = {t.id for t in wanted}
            _unlink(session=session, task_ids=[t for t in current if t not in wanted_ids], now=now,
                    changes=link_changes)
            _link(session=session, tasks=wanted, now=now, changes=link_changes)
        for field in SESSION_FIELDS:
            if field in changes:
                setattr(session, field, changes[field])
        if "status" in changes and session.status in Session.ENDED and session.completed_at is None:
            session.completed_at = now
        session.last_activity = now
        entities.clean_or_400(session, exclude=["tenant", "project"], validate_unique=False)
        # Sessions have no updated_at of their own: lastActivity is theirs.
        edit.save([*SESSION_FIELDS, "last_activity", "completed_at"], now=now, stamp="last_activity")
        SessionEvent.objects.bulk_create([
            SessionEvent(session=session, type=e["type"], data=e.get("data"), timestamp=now) for e in events or []
        ])
        SessionTimelineEvent.objects.bulk_create([
            SessionTimelineEvent(session=session, type=t.get("type") or "progress", message=t.get("message", ""),
                                 task_id=t.get("taskId"), metadata=t.get("metadata"), timestamp=now)
            for t in timeline or []
        ])
        what = sorted(changes) + (["taskIds"] if task_ids is not None else []) + (["events"] if events else []) \
            + (["timeline"] if timeline else [])
        edit.record(f"Updated {', '.join(what) or 'activity'}", event=(Event.SESSION_UPDATED, SESSION.fresh(session)))
        _emit_link_events(tenant=tenant, session=session, changes=link_changes, session_side=True)
    return session


def session_delete(*, tenant: Tenant, session_id: str, actor: Actor, expected_version: int | None = None) -> str:
    """Removes the session from its tasks' sessionIds and appends ``session_ended`` to their
    timelines (old policy)."""
    now = timezone.now()
    with entities.editing(SESSION, tenant=tenant, actor=actor, ident=session_id, action=Action.SESSION_DELETE,
                          expected_version=expected_version) as edit:
        session = edit.obj
        linked = [link.task_id for link in session.task_links.all()]
        tasks_lock(tenant=tenant, task_ids=linked)
        changes: LinkChanges = []
        _unlink(session=session, task_ids=linked, now=now, changes=changes, reason="ended (deleted)")
        project_id = session.project_id
        session.delete()
        edit.change.record(details=f"Deleted session {session.name}", project_id=project_id,
                           event=(Event.SESSION_DELETED, {"id": session_id}))
        _emit_link_events(tenant=tenant, session=session, changes=changes, session_side=False)
    return session_id


def session_event_add(*, tenant: Tenant, session_id: str, actor: Actor, type: str, data: Any = None) -> Session:
    return session_update(tenant=tenant, session_id=session_id, actor=actor, changes={},
                          events=[{"type": type, "data": data}], action=Action.SESSION_EVENT_ADD)


def session_timeline_add(*, tenant: Tenant, session_id: str, actor: Actor, type: str, message: str,
                         task_id: str | None = None, metadata: dict[str, Any] | None = None) -> Session:
    return session_update(tenant=tenant, session_id=session_id, actor=actor, changes={},
                          timeline=[{"type": type, "message": message, "taskId": task_id, "metadata": metadata}],
                          action=Action.SESSION_TIMELINE_ADD)


def session_task_add(*, tenant: Tenant, session_id: str, task_id: str, actor: Actor) -> Session:
    """Idempotent on both sides: a second add changes nothing but the session's lastActivity."""
    now = timezone.now()
    with entities.editing(SESSION, tenant=tenant, actor=actor, ident=session_id, action=Action.SESSION_TASK_ADD,
                          lock="no_key") as edit:
        session = edit.obj
        tasks = _tasks_of_project(tenant=tenant, project_id=session.project_id, task_ids=[task_id])
        changes: LinkChanges = []
        _link(session=session, tasks=tasks, now=now, changes=changes)
        edit.save([], now=now, stamp="last_activity")
        edit.record(f"Task {task_id} {'added' if changes else 'already linked'}",
                    event=(Event.SESSION_UPDATED, SESSION.fresh(session)))
        _emit_link_events(tenant=tenant, session=session, changes=changes, session_side=True)
    return session


def session_task_remove(*, tenant: Tenant, session_id: str, task_id: str, actor: Actor) -> Session:
    now = timezone.now()
    with entities.editing(SESSION, tenant=tenant, actor=actor, ident=session_id,
                          action=Action.SESSION_TASK_REMOVE, lock="no_key") as edit:
        session = edit.obj
        if not tasks_lock(tenant=tenant, task_ids=[task_id]):
            raise NotFound("task", task_id)
        changes: LinkChanges = []
        _unlink(session=session, task_ids=[task_id], now=now, changes=changes)
        edit.save([], now=now, stamp="last_activity")
        edit.record(f"Task {task_id} {'removed' if changes else 'was not linked'}",
                    event=(Event.SESSION_UPDATED, SESSION.fresh(session)))
        _emit_link_events(tenant=tenant, session=session, changes=changes, session_side=True)
    return session


def session_spawn(*, tenant: Tenant, actor: Actor, project: Project, task_ids: list[str], role: str = "worker",
                  skills: list[str] | None = None, model: str | None = None, session_name: str | None = None,
                  spawn_source: str | None = None, spawned_by: str | None = None,
                  context: dict[str, Any] | None = None, spawn_reason: str | None = None,
                  strategy: str | None = None) -> tuple[Session, dict[str, Any]]:
    """Creates a ``spawning`` session and the manifest an agent runner needs to start it
    (orchestration.work.manifest, from the options kept in the session's metadata, so that
    ``GET /api/sessions/{id}/manifest`` gives it again). ``spawn_reason`` and ``strategy``
    (the old clients') are kept there too."""
    skills = skills if skills is not None else ["maestro-worker"]
    task_ids = list(dict.fromkeys(task_ids))
    session_id = new_id("sess")
    env = {
        "MAESTRO_SESSION_ID": session_id,
        "MAESTRO_PROJECT_ID": project.id,
        "MAESTRO_TASK_IDS": ",".join(task_ids),
        "MAESTRO_SERVER_URL": settings.MAESTRO_PUBLIC_URL,
        "MAESTRO_SKILLS": ",".join(skills),
        "MAESTRO_STRATEGY": strategy or "simple",
    }
    with service(SESSION.change(tenant=tenant, actor=actor, action=Action.SESSION_SPAWN, ident=session_id)):
        # The spawn request goes first: the old clients take the first message after a spawn
        # as the request to start it (DESIGN §5, docs/architecture.md "Old clients").
        mark = events_mark()
        session = session_create(
            tenant=tenant, actor=actor, project=project, task_ids=task_ids, session_id=session_id,
            name=session_name, status=Session.Status.SPAWNING, env=env, action=Action.SESSION_SPAWN,
            metadata={"role": role, "skills": skills, "model": model, "spawnSource": spawn_source,
                      "spawnedBy": spawned_by, "context": context or {},
                      **({"spawnReason": spawn_reason} if spawn_reason else {}),
                      **({"strategy": strategy} if strategy else {})},
        )
        manifest = session_manifest(session=session, project=project, server_url=settings.MAESTRO_PUBLIC_URL,
                                    tasks=tasks_in_order(tenant=tenant, task_ids=task_ids))
        # What the old agents UI reads (session, projectId, taskIds, skillIds, name), then
        # what an agent runner needs to start the session.
        emit(tenant_id=tenant.pk, type=Event.SESSION_SPAWN_REQUEST, project_id=project.id, at=mark,
             data={"session": SESSION.fresh(session), "projectId": project.id, "taskIds": task_ids,
                   "skillIds": skills, "name": session.name, "sessionId": session.id, "manifest": manifest})
    return session, manifest

