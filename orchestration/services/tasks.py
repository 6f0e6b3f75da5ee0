from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import NotFound, ValidationFailed
from maestro.write_path import emit, record, service
from orchestration.models import Project, Subtask, Task, TaskTimelineEvent
from orchestration.representations import subtask_repr, task_repr
from orchestration.selectors.projects import key_share
from orchestration.selectors.tasks import task_get, task_list_by_ids

TASK_FIELDS = ("title", "description", "status", "priority", "skill_ids", "agent_ids", "dependencies",
               "initial_prompt")


def _fresh(task: Task) -> dict[str, Any]:
    return task_repr(task_get(tenant=task.tenant_id, task_id=task.id))


def task_create(*, tenant: Any, actor: Actor, project: Project, title: str, parent_id: str | None = None,
                description: str = "", priority: str = Task.Priority.MEDIUM, initial_prompt: str = "",
                skill_ids: list[str] | None = None, agent_ids: list[str] | None = None,
                dependencies: list[str] | None = None) -> Task:
    now = timezone.now()
    with service():
        # Lock what the new row references before the event counter (see selectors.key_share).
        if not key_share(Project, [project.id]):
            raise NotFound("project", project.id)
        parent = None
        if parent_id:
            parent = Task.objects.filter(tenant=tenant, id=parent_id).only("id", "project_id").first()
            if parent is None or not key_share(Task, [parent.id]):
                raise ValidationFailed("parentId does not name a task", details={"parentId": parent_id})
            if parent.project_id != project.id:
                raise ValidationFailed("parentId names a task of another project", details={"parentId": parent_id})
        task = Task(tenant=tenant, project=project, parent=parent, title=title, description=description,
                    priority=priority, initial_prompt=initial_prompt, skill_ids=skill_ids or [],
                    agent_ids=agent_ids or [], dependencies=dependencies or [], created_at=now, updated_at=now)
        task.full_clean(exclude=["tenant", "project", "parent"], validate_unique=False)
        task.save(force_insert=True)
        created = TaskTimelineEvent.objects.create(task=task, type=TaskTimelineEvent.Type.CREATED, timestamp=now,
                                                   message="Task created")
        # A new task has exactly this timeline and no subtasks or sessions: no need to re-read it.
        payload = task_repr(task, timeline_rows=[created], subtasks=[], session_ids=[])
        record(tenant=tenant, actor=actor, action="task.create", resource_type="task", resource_id=task.id,
               details=f"Created task {title}", event=("task:created", payload))
    return task


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


def task_update(*, tenant: Any, task_id: str, actor: Actor, changes: dict[str, Any],
                timeline: list[dict[str, Any]] | None = None) -> Task:
    """Partial update; ``timeline`` entries are appended, never replace the history."""
    now = timezone.now()
    with service():
        task = task_get(tenant=tenant, task_id=task_id, for_update=True)
        new_events: list[TaskTimelineEvent] = []
        for field in TASK_FIELDS:
            if field not in changes:
                continue
            if field == "status":
                event = _set_status(task, changes["status"], now)
                if event:
                    new_events.append(event)
            else:
                setattr(task, field, changes[field])
        for item in timeline or []:
            new_events.append(TaskTimelineEvent(task=task, type=item.get("type") or "update", timestamp=now,
                                                message=item.get("message", ""), session_id=item.get("sessionId")))
        task.updated_at = now
        task.full_clean(exclude=["tenant", "project", "parent"], validate_unique=False)
        task.save(update_fields=[*TASK_FIELDS, "updated_at", "started_at", "completed_at"])
        TaskTimelineEvent.objects.bulk_create(new_events)
        record(tenant=tenant, actor=actor, action="task.update", resource_type="task", resource_id=task.id,
               details=f"Updated {', '.join(sorted(changes)) or 'timeline'}", event=("task:updated", _fresh(task)))
    return task


def task_delete(*, tenant: Any, task_id: str, actor: Actor) -> str:
    """Deletes the task, its subtasks and timeline; children become roots, sessions lose the
    link (their other tasks are untouched)."""
    now = timezone.now()
    with service():
        task = task_get(tenant=tenant, task_id=task_id, for_delete=True)
        session_ids = [link.session_id for link in task.session_links.all()]
        child_ids = list(Task.objects.filter(parent_id=task_id).values_list("id", flat=True))
        project_id = task.project_id
        task.delete()
        Task.objects.filter(id__in=child_ids).update(updated_at=now)
        record(tenant=tenant, actor=actor, action="task.delete", resource_type="task", resource_id=task_id,
               details=f"Deleted task {task.title}", event=("task:deleted", {"id": task_id}), project_id=project_id)
        for session_id in session_ids:
            emit(tenant=tenant, type="session:task_removed", data={"sessionId": session_id, "taskId": task_id},
                 project_id=project_id)
        # The children became roots: their parentId changed, so clients must hear about it.
        for child in task_list_by_ids(tenant=tenant, task_ids=child_ids):
            emit(tenant=tenant, type="task:updated", data=task_repr(child))
    return task_id


def task_timeline_add(*, tenant: Any, task_id: str, actor: Actor, type: str, message: str,
                      session_id: str | None = None) -> Task:
    now = timezone.now()
    with service():
        task = task_get(tenant=tenant, task_id=task_id, for_update=True)
        TaskTimelineEvent.objects.create(task=task, type=type, timestamp=now, message=message, session_id=session_id)
        Task.objects.filter(pk=task.pk).update(updated_at=now)
        record(tenant=tenant, actor=actor, action="task.timeline_add", resource_type="task", resource_id=task.id,
               details=f"{type}: {message[:200]}", event=("task:updated", _fresh(task)))
    return task


def subtask_create(*, tenant: Any, task_id: str, actor: Actor, title: str, description: str = "",
                   completed: bool = False, order: int | None = None) -> Subtask:
    now = timezone.now()
    with service():
        task = task_get(tenant=tenant, task_id=task_id, for_update=True)
        if order is None:
            order = task.subtasks.count()
        subtask = Subtask(task=task, title=title, description=description, completed=completed, order=order,
                          created_at=now, updated_at=now, completed_at=now if completed else None)
        subtask.full_clean(exclude=["task"])
        subtask.save(force_insert=True)
        Task.objects.filter(pk=task.pk).update(updated_at=now)
        data = subtask_repr(subtask)
        record(tenant=tenant, actor=actor, action="subtask.create", resource_type="subtask", resource_id=subtask.id,
               details=f"Created subtask {title} on {task.id}", event=("subtask:created", data),
               project_id=task.project_id)
        emit(tenant=tenant, type="task:updated", data=_fresh(task))
    return subtask


def _subtask(task: Task, subtask_id: str) -> Subtask:
    subtask = Subtask.objects.filter(task=task, id=subtask_id).first()
    if subtask is None:
        raise NotFound("subtask", subtask_id)
    return subtask


def subtask_update(*, tenant: Any, task_id: str, subtask_id: str, actor: Actor, changes: dict[str, Any]) -> Subtask:
    now = timezone.now()
    with service():
        task = task_get(tenant=tenant, task_id=task_id, for_update=True)
        subtask = _subtask(task, subtask_id)
        for field in ("title", "description", "order"):
            if field in changes:
                setattr(subtask, field, changes[field])
        if "completed" in changes and changes["completed"] != subtask.completed:
            subtask.completed = changes["completed"]
            subtask.completed_at = now if subtask.completed else None
        subtask.updated_at = now
        subtask.full_clean(exclude=["task"])
        subtask.save()
        Task.objects.filter(pk=task.pk).update(updated_at=now)
        data = subtask_repr(subtask)
        record(tenant=tenant, actor=actor, action="subtask.update", resource_type="subtask", resource_id=subtask.id,
               details=f"Updated {', '.join(sorted(changes))}", event=("subtask:updated", data),
               project_id=task.project_id)
        emit(tenant=tenant, type="task:updated", data=_fresh(task))
    return subtask


def subtask_delete(*, tenant: Any, task_id: str, subtask_id: str, actor: Actor) -> str:
    now = timezone.now()
    with service():
        task = task_get(tenant=tenant, task_id=task_id, for_update=True)
        subtask = _subtask(task, subtask_id)
        subtask.delete()
        Task.objects.filter(pk=task.pk).update(updated_at=now)
        record(tenant=tenant, actor=actor, action="subtask.delete", resource_type="subtask", resource_id=subtask_id,
               details=f"Deleted subtask {subtask.title}",
               event=("subtask:deleted", {"id": subtask_id}), project_id=task.project_id)
        emit(tenant=tenant, type="task:updated", data=_fresh(task))
    return subtask_id
