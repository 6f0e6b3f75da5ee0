from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from maestro.actors import Actor
from maestro.exceptions import MaestroError, ValidationFailed
from maestro.write_path import emit, record, service
from orchestration.ids import new_id
from orchestration.models import (
    Project,
    Session,
    SessionEvent,
    SessionTask,
    SessionTimelineEvent,
    Task,
    TaskTimelineEvent,
)
from orchestration.representations import session_repr, task_repr
from orchestration.selectors.sessions import session_get
from orchestration.selectors.tasks import task_get, tasks_get_many

SESSION_FIELDS = ("name", "agent_id", "status", "env", "metadata", "hostname", "platform")


def _fresh(session: Session) -> dict[str, Any]:
    return session_repr(session_get(tenant=session.tenant_id, session_id=session.id))


def _tasks_of_project(*, tenant: Any, project: Project, task_ids: list[str]) -> list[Task]:
    """The tasks, in the order given; every id must name a task of this project."""
    found = tasks_get_many(tenant=tenant, task_ids=task_ids)
    missing = [t for t in task_ids if t not in found]
    if missing:
        raise ValidationFailed("taskIds name unknown tasks", code="TASK_NOT_FOUND", status_code=404,
                               details={"taskIds": missing})
    foreign = [t for t in task_ids if found[t].project_id != project.id]
    if foreign:
        raise ValidationFailed("taskIds name tasks of another project", details={"taskIds": foreign})
    return [found[t] for t in dict.fromkeys(task_ids)]


def _link(*, tenant: Any, session: Session, tasks: list[Task], now: datetime) -> list[Task]:
    """Links tasks to the session (idempotent on both sides: a unique row per pair). Returns
    the tasks that were newly linked; each gains a ``session_started`` timeline entry."""
    if not tasks:
        return []
    existing = set(SessionTask.objects.filter(session=session, task__in=tasks).values_list("task_id", flat=True))
    fresh = [t for t in tasks if t.id not in existing]
    # ON CONFLICT DO NOTHING: a concurrent writer linking the same pair is not an error.
    SessionTask.objects.bulk_create([SessionTask(session=session, task=t) for t in fresh], ignore_conflicts=True)
    TaskTimelineEvent.objects.bulk_create([
        TaskTimelineEvent(task=t, type=TaskTimelineEvent.Type.SESSION_STARTED, timestamp=now,
                          message=f"Session {session.id} started", session_id=session.id)
        for t in fresh
    ])
    Task.objects.filter(id__in=[t.id for t in fresh]).update(updated_at=now)
    for t in fresh:
        emit(tenant=tenant, type="task:session_added", data={"sessionId": session.id, "taskId": t.id},
             project_id=session.project_id)
        emit(tenant=tenant, type="task:updated", data=task_repr(task_get(tenant=tenant, task_id=t.id)))
    return fresh


def session_create(*, tenant: Any, actor: Actor, project: Project, task_ids: list[str], session_id: str | None = None,
                   name: str | None = None, agent_id: str | None = None, status: str = Session.Status.RUNNING,
                   env: dict[str, str] | None = None, metadata: dict[str, Any] | None = None,
                   hostname: str = "", platform: str = "", action: str = "session.create") -> Session:
    now = timezone.now()
    with service():
        tasks = _tasks_of_project(tenant=tenant, project=project, task_ids=task_ids)
        if session_id and Session.objects.filter(id=session_id).exists():
            raise MaestroError("A session with this id already exists", code="CONFLICT", status_code=409,
                               details={"id": session_id})
        session = Session(tenant=tenant, project=project, agent_id=agent_id, status=status, env=env or {},
                          metadata=metadata or {}, hostname=hostname, platform=platform, started_at=now,
                          last_activity=now, completed_at=now if status in Session.ENDED else None)
        if session_id:
            session.id = session_id
        session.name = name or f"Session {session.id}"
        session.full_clean(exclude=["tenant", "project"])
        session.save(force_insert=True)
        SessionTask.objects.bulk_create([SessionTask(session=session, task=t) for t in tasks])
        TaskTimelineEvent.objects.bulk_create([
            TaskTimelineEvent(task=t, type=TaskTimelineEvent.Type.SESSION_STARTED, timestamp=now,
                              message=f"Session {session.id} started", session_id=session.id)
            for t in tasks
        ])
        Task.objects.filter(id__in=[t.id for t in tasks]).update(updated_at=now)
        record(tenant=tenant, actor=actor, action=action, resource_type="session", resource_id=session.id,
               details=f"Created session {session.name} for {len(tasks)} task(s)",
               event=("session:created", _fresh(session)))
        for t in tasks:
            emit(tenant=tenant, type="task:session_added", data={"sessionId": session.id, "taskId": t.id},
                 project_id=project.id)
            emit(tenant=tenant, type="task:updated", data=task_repr(task_get(tenant=tenant, task_id=t.id)))
    return session


def session_update(*, tenant: Any, session_id: str, actor: Actor, changes: dict[str, Any],
                   task_ids: list[str] | None = None, events: list[dict[str, Any]] | None = None,
                   timeline: list[dict[str, Any]] | None = None) -> Session:
    """Partial update; ``events`` and ``timeline`` are appended; ``task_ids`` replaces the
    linked set (removed tasks get ``session_ended``, added ones ``session_started``)."""
    now = timezone.now()
    with service():
        session = session_get(tenant=tenant, session_id=session_id, for_update=True)
        for field in SESSION_FIELDS:
            if field in changes:
                setattr(session, field, changes[field])
        if "status" in changes:
            if session.status in Session.ENDED and session.completed_at is None:
                session.completed_at = now
        session.last_activity = now
        session.full_clean(exclude=["tenant", "project"])
        session.save(update_fields=[*SESSION_FIELDS, "last_activity", "completed_at"])
        SessionEvent.objects.bulk_create([
            SessionEvent(session=session, type=e["type"], data=e.get("data"), timestamp=now) for e in events or []
        ])
        SessionTimelineEvent.objects.bulk_create([
            SessionTimelineEvent(session=session, type=t.get("type") or "progress", message=t.get("message", ""),
                                 task_id=t.get("taskId"), metadata=t.get("metadata"), timestamp=now)
            for t in timeline or []
        ])
        if task_ids is not None:
            wanted = _tasks_of_project(tenant=tenant, project=session.project, task_ids=task_ids)
            current = [link.task_id for link in session.task_links.all()]
            for task_id in current:
                if task_id not in {t.id for t in wanted}:
                    _unlink(tenant=tenant, session=session, task_id=task_id, now=now)
            _link(tenant=tenant, session=session, tasks=wanted, now=now)
        record(tenant=tenant, actor=actor, action="session.update", resource_type="session", resource_id=session.id,
               details=f"Updated {', '.join(sorted(changes)) or 'activity'}", event=("session:updated", _fresh(session)))
    return session


def _unlink(*, tenant: Any, session: Session, task_id: str, now: datetime, reason: str = "removed") -> bool:
    deleted, _ = SessionTask.objects.filter(session=session, task_id=task_id).delete()
    if not deleted:
        return False
    TaskTimelineEvent.objects.create(task_id=task_id, type=TaskTimelineEvent.Type.SESSION_ENDED, timestamp=now,
                                     message=f"Session {session.id} {reason}", session_id=session.id)
    Task.objects.filter(id=task_id).update(updated_at=now)
    emit(tenant=tenant, type="task:session_removed", data={"sessionId": session.id, "taskId": task_id},
         project_id=session.project_id)
    emit(tenant=tenant, type="task:updated", data=task_repr(task_get(tenant=tenant, task_id=task_id)))
    return True


def session_delete(*, tenant: Any, session_id: str, actor: Actor) -> str:
    """Removes the session from its tasks' sessionIds and appends ``session_ended`` to their
    timelines (old policy)."""
    now = timezone.now()
    with service():
        session = session_get(tenant=tenant, session_id=session_id, for_update=True)
        for link in list(session.task_links.all()):
            _unlink(tenant=tenant, session=session, task_id=link.task_id, now=now, reason="ended (deleted)")
        project_id = session.project_id
        session.delete()
        record(tenant=tenant, actor=actor, action="session.delete", resource_type="session", resource_id=session_id,
               details=f"Deleted session {session.name}", event=("session:deleted", {"id": session_id}),
               project_id=project_id)
    return session_id


def session_event_add(*, tenant: Any, session_id: str, actor: Actor, type: str, data: Any = None) -> Session:
    return session_update(tenant=tenant, session_id=session_id, actor=actor, changes={},
                          events=[{"type": type, "data": data}])


def session_timeline_add(*, tenant: Any, session_id: str, actor: Actor, type: str, message: str,
                         task_id: str | None = None, metadata: dict[str, Any] | None = None) -> Session:
    return session_update(tenant=tenant, session_id=session_id, actor=actor, changes={},
                          timeline=[{"type": type, "message": message, "taskId": task_id, "metadata": metadata}])


def session_task_add(*, tenant: Any, session_id: str, task_id: str, actor: Actor) -> Session:
    now = timezone.now()
    with service():
        session = session_get(tenant=tenant, session_id=session_id, for_update=True)
        tasks = _tasks_of_project(tenant=tenant, project=session.project, task_ids=[task_id])
        added = _link(tenant=tenant, session=session, tasks=tasks, now=now)
        Session.objects.filter(pk=session.pk).update(last_activity=now)
        if added:
            emit(tenant=tenant, type="session:task_added", data={"sessionId": session.id, "taskId": task_id},
                 project_id=session.project_id)
        record(tenant=tenant, actor=actor, action="session.task_add", resource_type="session",
               resource_id=session.id, details=f"Task {task_id} {'added' if added else 'already linked'}",
               event=("session:updated", _fresh(session)))
    return session


def session_task_remove(*, tenant: Any, session_id: str, task_id: str, actor: Actor) -> Session:
    now = timezone.now()
    with service():
        session = session_get(tenant=tenant, session_id=session_id, for_update=True)
        task_get(tenant=tenant, task_id=task_id)
        removed = _unlink(tenant=tenant, session=session, task_id=task_id, now=now)
        Session.objects.filter(pk=session.pk).update(last_activity=now)
        if removed:
            emit(tenant=tenant, type="session:task_removed", data={"sessionId": session.id, "taskId": task_id},
                 project_id=session.project_id)
        record(tenant=tenant, actor=actor, action="session.task_remove", resource_type="session",
               resource_id=session.id, details=f"Task {task_id} {'removed' if removed else 'was not linked'}",
               event=("session:updated", _fresh(session)))
    return session


def session_spawn(*, tenant: Any, actor: Actor, project: Project, task_ids: list[str], role: str = "worker",
                  skills: list[str] | None = None, model: str | None = None, session_name: str | None = None,
                  spawn_source: str | None = None, spawned_by: str | None = None,
                  context: dict[str, Any] | None = None) -> tuple[Session, dict[str, Any]]:
    """Creates a ``spawning`` session and the manifest an agent runner needs to start it."""
    skills = skills if skills is not None else ["maestro-worker"]
    session_id = new_id("sess")
    env = {
        "MAESTRO_SESSION_ID": session_id,
        "MAESTRO_PROJECT_ID": project.id,
        "MAESTRO_TASK_IDS": ",".join(dict.fromkeys(task_ids)),
        "MAESTRO_SERVER_URL": settings.MAESTRO_PUBLIC_URL,
        "MAESTRO_SKILLS": ",".join(skills),
    }
    with service():
        session = session_create(
            tenant=tenant, actor=actor, project=project, task_ids=task_ids, session_id=session_id,
            name=session_name, status=Session.Status.SPAWNING, env=env, action="session.spawn",
            metadata={"role": role, "skills": skills, "model": model, "spawnSource": spawn_source,
                      "spawnedBy": spawned_by, "context": context or {}},
        )
        tasks = [task_get(tenant=tenant, task_id=t) for t in dict.fromkeys(task_ids)]
        manifest = {
            "manifestVersion": 1,
            "sessionId": session.id,
            "sessionName": session.name,
            "role": role,
            "model": model,
            "skills": skills,
            "project": {"id": project.id, "name": project.name, "workingDir": project.working_dir},
            "tasks": [{"id": t.id, "title": t.title, "description": t.description,
                       "initialPrompt": t.initial_prompt, "priority": t.priority, "status": t.status,
                       "parentId": t.parent_id} for t in tasks],
            "env": env,
            "context": context or {},
            "spawnSource": spawn_source,
            "spawnedBy": spawned_by,
            "serverUrl": settings.MAESTRO_PUBLIC_URL,
        }
        session_data = _fresh(session)
        emit(tenant=tenant, type="session:spawn_request",
             data={"sessionId": session.id, "projectId": project.id, "manifest": manifest, "session": session_data})
    return session, manifest
