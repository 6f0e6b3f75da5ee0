"""Tasks and their subtasks and timeline. Editing a subtask is a change of its task too: the
task's row is locked, and a ``task:updated`` follows the subtask's own event."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import F
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import NotFound, ValidationFailed
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Event, Resource
from maestro.write_path.services import emit
from orchestration.base import entities
from orchestration.base.selectors import key_share
from orchestration.work.models import Project, Subtask, Task, TaskTimelineEvent
from orchestration.work.representations import subtask_repr, task_repr
from orchestration.work.selectors.tasks import task_get, task_list_by_ids

TASK_FIELDS = ("title", "description", "status", "priority", "skill_ids", "agent_ids", "dependencies",
               "initial_prompt", "session_status")
SUBTASK_FIELDS = ("title", "description", "order")
# A task's project and parent are checked (and locked) by the services, not by full_clean.
_NOT_CLEANED = ["tenant", "project", "parent"]

TASK: entities.Kind[Task] = entities.Kind(
    model=Task, resource=Resource.TASK, label="Task", ident="id",
    lookup=lambda tenant, ident, lock: task_get(tenant=tenant, task_id=ident, lock=lock),
    present=task_repr, scope=lambda task: task.project_id,
)


def task_create(*, tenant: Tenant, actor: Actor, project: Project, title: str, parent_id: str | None = None,
                description: str = "", priority: str = Task.Priority.MEDIUM, initial_prompt: str = "",
                skill_ids: list[str] | None = None, agent_ids: list[str] | None = None,
                dependencies: list[str] | None = None, status: str = Task.Status.PENDING) -> Task:
    now = timezone.now()
    task = Task(tenant=tenant, project=project, title=title, description=description, priority=priority,
                initial_prompt=initial_prompt, skill_ids=skill_ids or [], agent_ids=agent_ids or [],
                dependencies=dependencies or [], status=status, created_at=now, updated_at=now,
                started_at=now if status == Task.Status.IN_PROGRESS else None,
                completed_at=now if status == Task.Status.COMPLETED else None)
    timeline: list[TaskTimelineEvent] = []

    def references(new: Task) -> None:
        # Lock what the new row references before the event counter (see base.selectors.key_share).
        if not key_share(Project, [project.id]):
            raise NotFound("project", project.id)
        new.parent = _parent(tenant, project, parent_id)

    def with_timeline(saved: Task) -> Task:
        timeline.append(TaskTimelineEvent.objects.create(task=saved, type=TaskTimelineEvent.Type.CREATED,
                                                         timestamp=now, message="Task created"))
        return saved

    # A new task has exactly this timeline and no subtasks or sessions: no need to re-read it.
    return entities.create(TASK, task, tenant=tenant, actor=actor, details=f"Created task {title}",
                           exclude=_NOT_CLEANED, prepare=references, after_save=with_timeline,
                           shown=lambda saved: task_repr(saved, timeline_rows=timeline, subtasks=[], session_ids=[]))


def _parent(tenant: Tenant, project: Project, parent_id: str | None) -> Task | None:
    if not parent_id:
        return None
    parent = Task.objects.filter(tenant=tenant, id=parent_id).only("id", "project_id").first()
    if parent is None or not key_share(Task, [parent.id]):
        raise ValidationFailed("parentId does not name a task", details={"parentId": parent_id})
    if parent.project_id != project.id:
        raise ValidationFailed("parentId names a task of another project", details={"parentId": parent_id})
    return parent


def _set_status(task: Task, status: str, now: datetime) -> TaskTimelineEvent | None:
    if status == task.status:
        return None
    old = task.status
    task.status = status
    # startedAt / completedAt are set once, on the first entry into the state.
    if status == Task.Status.IN_PROGRESS and task.started_at is None:
        task.started_at = now
    if status == Task.Status.COMPLETED and task.completed_at is None:
        task.completed_at = now
    return TaskTimelineEvent(task=task, type=TaskTimelineEvent.Type.TASK_STATUS_CHANGED, timestamp=now,
                             message=f"Status changed from {old} to {status}")


def task_update(*, tenant: Tenant, task_id: str, actor: Actor, changes: dict[str, Any],
                timeline: list[dict[str, Any]] | None = None, expected_version: int | None = None) -> Task:
    """Partial update; ``timeline`` entries are appended, never replace the history. A
    ``session_status`` (reported by the session ``session_id``) is stored with a timeline entry
    naming the session; ``update_source`` says who wrote the change."""
    now = timezone.now()
    with entities.editing(TASK, tenant=tenant, actor=actor, ident=task_id, lock="no_key",
                          expected_version=expected_version) as edit:
        task = edit.obj
        new_events: list[TaskTimelineEvent] = []
        for field in TASK_FIELDS:
            if field not in changes:
                continue
            if field == "status":
                event = _set_status(task, changes["status"], now)
                if event:
                    new_events.append(event)
            elif field == "session_status":
                task.session_status = changes[field]
                reporter = changes.get("session_id") or "a session"
                new_events.append(TaskTimelineEvent(task=task, type=TaskTimelineEvent.Type.PROGRESS, timestamp=now,
                                                    message=f"{reporter} reported {changes[field]}",
                                                    session_id=changes.get("session_id")))
            else:
                setattr(task, field, changes[field])
        for item in timeline or []:
            new_events.append(TaskTimelineEvent(task=task, type=item.get("type") or "update", timestamp=now,
                                                message=item.get("message", ""), session_id=item.get("sessionId")))
        entities.clean_or_400(task, exclude=_NOT_CLEANED, validate_unique=False)
        edit.save([*TASK_FIELDS, "started_at", "completed_at"], now=now)
        TaskTimelineEvent.objects.bulk_create(new_events)
        changed = sorted(set(changes) - {"session_id", "update_source"})
        edit.record(f"Updated {', '.join(changed) or 'timeline'}", event=(Event.TASK_UPDATED, TASK.fresh(task)))
    return task


def task_delete(*, tenant: Tenant, task_id: str, actor: Actor, expected_version: int | None = None) -> str:
    """Deletes the task, its subtasks and timeline; children become roots, sessions lose the
    link (their other tasks are untouched)."""
    now = timezone.now()
    with entities.editing(TASK, tenant=tenant, actor=actor, ident=task_id, action=Action.TASK_DELETE,
                          expected_version=expected_version) as edit:
        task = edit.obj
        session_ids = [link.session.id for link in task.session_links.all()]
        child_ids = list(Task.objects.filter(parent_id=task_id).values_list("id", flat=True))
        project_id = task.project_id
        task.delete()
        Task.objects.filter(id__in=child_ids).update(updated_at=now, version=F("version") + 1)
        edit.change.record(details=f"Deleted task {task.title}", event=(Event.TASK_DELETED, {"id": task_id}),
                           project_id=project_id)
        for session_id in session_ids:
            emit(tenant_id=tenant.pk, type=Event.SESSION_TASK_REMOVED, project_id=project_id,
                 data={"sessionId": session_id, "taskId": task_id})
        # The children became roots: their parentId changed, so clients must hear about it.
        for child in task_list_by_ids(tenant=tenant, task_ids=child_ids):
            emit(tenant_id=tenant.pk, type=Event.TASK_UPDATED, data=task_repr(child), project_id=project_id)
    return task_id


def task_timeline_add(*, tenant: Tenant, task_id: str, actor: Actor, type: str, message: str,
                      session_id: str | None = None) -> Task:
    now = timezone.now()
    with entities.editing(TASK, tenant=tenant, actor=actor, ident=task_id, action=Action.TASK_TIMELINE_ADD,
                          lock="no_key") as edit:
        task = edit.obj
        TaskTimelineEvent.objects.create(task=task, type=type, timestamp=now, message=message, session_id=session_id)
        edit.save([], now=now)
        edit.record(f"{type}: {message[:200]}", event=(Event.TASK_UPDATED, TASK.fresh(task)))
    return task


# --- subtasks: changes of their task ---------------------------------------------------------

def _subtask_change(edit: entities.Edit[Task], subtask: Subtask, action: Action, details: str,
                    event: tuple[Event, Mapping[str, Any]], now: datetime) -> None:
    edit.save([], now=now)
    edit.change.record(details=details, action=action, event=event, resource_type=Resource.SUBTASK,
                       resource_id=subtask.id, project_id=edit.obj.project_id)
    emit(tenant_id=edit.change.tenant_id, type=Event.TASK_UPDATED, data=TASK.fresh(edit.obj),
         project_id=edit.obj.project_id)


def _editing_subtasks_of(tenant: Tenant, actor: Actor, task_id: str, action: Action) -> Any:
    return entities.editing(TASK, tenant=tenant, actor=actor, ident=task_id, action=action, lock="no_key")


def subtask_create(*, tenant: Tenant, task_id: str, actor: Actor, title: str, description: str = "",
                   completed: bool = False, order: int | None = None) -> Subtask:
    now = timezone.now()
    with _editing_subtasks_of(tenant, actor, task_id, Action.SUBTASK_CREATE) as edit:
        task = edit.obj
        subtask = Subtask(task=task, title=title, description=description, completed=completed,
                          order=task.subtasks.count() if order is None else order,
                          created_at=now, updated_at=now, completed_at=now if completed else None)
        entities.clean_or_400(subtask, exclude=["task"])
        subtask.save(force_insert=True)
        _subtask_change(edit, subtask, Action.SUBTASK_CREATE, f"Created subtask {title} on {task.id}",
                        (Event.SUBTASK_CREATED, subtask_repr(subtask)), now)
    return subtask


def _subtask(task: Task, subtask_id: str) -> Subtask:
    subtask = Subtask.objects.filter(task=task, id=subtask_id).first()
    if subtask is None:
        raise NotFound("subtask", subtask_id)
    return subtask


def subtask_update(*, tenant: Tenant, task_id: str, subtask_id: str, actor: Actor,
                   changes: dict[str, Any]) -> Subtask:
    now = timezone.now()
    with _editing_subtasks_of(tenant, actor, task_id, Action.SUBTASK_UPDATE) as edit:
        subtask = _subtask(edit.obj, subtask_id)
        for field in SUBTASK_FIELDS:
            if field in changes:
                setattr(subtask, field, changes[field])
        if "completed" in changes and changes["completed"] != subtask.completed:
            subtask.completed = changes["completed"]
            subtask.completed_at = now if subtask.completed else None
        subtask.updated_at = now
        entities.clean_or_400(subtask, exclude=["task"])
        subtask.save()
        _subtask_change(edit, subtask, Action.SUBTASK_UPDATE, f"Updated {', '.join(sorted(changes))}",
                        (Event.SUBTASK_UPDATED, subtask_repr(subtask)), now)
    return subtask


def subtask_delete(*, tenant: Tenant, task_id: str, subtask_id: str, actor: Actor) -> str:
    now = timezone.now()
    with _editing_subtasks_of(tenant, actor, task_id, Action.SUBTASK_DELETE) as edit:
        subtask = _subtask(edit.obj, subtask_id)
        subtask.delete()
        subtask.id = subtask_id  # delete() cleared it; the record names it
        _subtask_change(edit, subtask, Action.SUBTASK_DELETE, f"Deleted subtask {subtask.title}",
                        (Event.SUBTASK_DELETED, {"id": subtask_id}), now)
    return subtask_id
