"""The API shape of each entity (camelCase, epoch-ms), used by the API and by event payloads
("the rest carry the full object as the REST API returns it"). Each shape is declared once, as
the TypedDict its function returns: mypy checks the functions against them, and the OpenAPI
document is derived from them (maestro.api.openapi). Expects the relations the selectors
prefetch; never queries per row when they are prefetched.

No ``from __future__ import annotations`` here: TypedDicts read ``NotRequired`` when the class
is made, which string annotations would hide from the published schema."""

from collections.abc import Iterable
from typing import Annotated, Any, NotRequired, TypedDict

from maestro.core.wire import EpochMs as Ms
from maestro.core.wire import to_ms
from orchestration.work.models import (
    Project,
    Session,
    SessionQueueItem,
    Subtask,
    Task,
    TaskRelations,
    TaskTimelineEvent,
)

Version = Annotated[int, "sent as ETag; If-Match with a stale one is 412"]


class ProjectOut(TypedDict):
    id: Annotated[str, "proj_<ms>_<rand9>"]
    name: str
    workingDir: str
    description: str
    version: Version
    createdAt: Ms
    updatedAt: Ms


class SubtaskOut(TypedDict):
    id: str
    taskId: str
    title: str
    description: str
    completed: bool
    order: int
    createdAt: Ms
    updatedAt: Ms
    completedAt: Ms | None


class TaskTimelineOut(TypedDict):
    id: Annotated[str, "evt_<ms>_<rand9>"]
    type: Annotated[str, TaskTimelineEvent.Type]
    timestamp: Ms
    message: str
    sessionId: NotRequired[str]


class TaskOut(TypedDict):
    id: Annotated[str, "task_<ms>_<rand9>"]
    projectId: str
    parentId: str | None
    title: str
    description: str
    initialPrompt: str
    status: Annotated[str, Task.Status]
    priority: Annotated[str, Task.Priority]
    sessionIds: list[str]
    skillIds: list[str]
    agentIds: list[str]
    dependencies: list[str]
    sessionStatus: Annotated[str | None, "the status a working session last reported for the task"]
    version: Version
    subtasks: list[SubtaskOut]
    timeline: list[TaskTimelineOut]
    createdAt: Ms
    updatedAt: Ms
    startedAt: Ms | None
    completedAt: Ms | None


class SessionEventOut(TypedDict):
    id: str
    type: str
    data: Any
    timestamp: Ms


class SessionTimelineOut(TypedDict):
    id: Annotated[str, "evt_<ms>_<rand9>"]
    type: str
    timestamp: Ms
    message: str
    taskId: NotRequired[str]
    metadata: NotRequired[dict[str, Any]]


class SessionOut(TypedDict):
    id: Annotated[str, "sess_<ms>_<rand9>"]
    projectId: str
    taskIds: list[str]
    name: str
    agentId: str | None
    status: Annotated[str, Session.Status]
    env: dict[str, str]
    events: list[SessionEventOut]
    timeline: list[SessionTimelineOut]
    metadata: dict[str, Any]
    hostname: str
    platform: str
    version: Version
    startedAt: Ms
    lastActivity: Ms
    completedAt: Ms | None


class DeletedOut(TypedDict):
    success: bool
    id: str


class ManifestOut(TypedDict):
    """The old CLI's manifest (orchestration.work.manifest): what ``maestro worker init`` reads."""

    manifestVersion: Annotated[str, "1.0"]
    role: Annotated[str, "worker | orchestrator"]
    strategy: NotRequired[Annotated[str, "simple | queue"]]
    tasks: Annotated[list[dict[str, Any]], "id, title, description, acceptanceCriteria, projectId, createdAt (ISO), "
                                           "parentId, priority, status (pending is todo), dependencies, metadata"]
    session: Annotated[dict[str, Any], "model (sonnet | opus | haiku), permissionMode, thinkingMode, workingDirectory"]
    context: Annotated[dict[str, Any], "custom: taskIds, sessionId, projectId, serverUrl, spawnSource, spawnedBy, …"]
    skills: list[str]


class SpawnOut(TypedDict):
    success: bool
    sessionId: str
    manifest: ManifestOut
    session: SessionOut


class QueueItemOut(TypedDict):
    taskId: str
    status: Annotated[str, SessionQueueItem.Status]
    addedAt: Ms
    startedAt: NotRequired[Ms]
    completedAt: NotRequired[Ms]
    failReason: NotRequired[str]


class QueueStatsOut(TypedDict):
    total: int
    queued: int
    processing: int
    completed: int
    failed: int
    skipped: int


class QueueOut(TypedDict):
    sessionId: str
    strategy: Annotated[str, "queue"]
    items: list[QueueItemOut]
    currentIndex: Annotated[int, "the item being processed, -1 when none"]
    createdAt: Ms
    updatedAt: Ms


def queue_item_repr(item: SessionQueueItem) -> QueueItemOut:
    """The old server's item: times it does not have yet are left out."""
    out: QueueItemOut = {"taskId": item.task_id, "status": item.status, "addedAt": to_ms(item.added_at)}
    if item.started_at:
        out["startedAt"] = to_ms(item.started_at)
    if item.completed_at:
        out["completedAt"] = to_ms(item.completed_at)
    if item.fail_reason:
        out["failReason"] = item.fail_reason
    return out


def queue_stats(items: list[SessionQueueItem]) -> QueueStatsOut:
    count = {status: sum(1 for i in items if i.status == status) for status in SessionQueueItem.Status}
    return {"total": len(items), "queued": count[SessionQueueItem.Status.QUEUED],
            "processing": count[SessionQueueItem.Status.PROCESSING],
            "completed": count[SessionQueueItem.Status.COMPLETED], "failed": count[SessionQueueItem.Status.FAILED],
            "skipped": count[SessionQueueItem.Status.SKIPPED]}


def queue_repr(session: Session, items: list[SessionQueueItem]) -> QueueOut:
    current = next((n for n, i in enumerate(items) if i.status == SessionQueueItem.Status.PROCESSING), -1)
    moments = [moment for i in items for moment in (i.added_at, i.started_at, i.completed_at) if moment]
    return {"sessionId": session.id, "strategy": "queue", "items": [queue_item_repr(i) for i in items],
            "currentIndex": current, "createdAt": to_ms(min(moments, default=session.started_at)),
            "updatedAt": to_ms(max(moments, default=session.started_at))}


def project_repr(p: Project) -> ProjectOut:
    return {
        "id": p.id,
        "name": p.name,
        "workingDir": p.working_dir,
        "description": p.description,
        "version": p.version,
        "createdAt": to_ms(p.created_at),
        "updatedAt": to_ms(p.updated_at),
    }


def subtask_repr(s: Subtask) -> SubtaskOut:
    return {
        "id": s.id,
        "taskId": s.task_id,
        "title": s.title,
        "description": s.description,
        "completed": s.completed,
        "order": s.order,
        "createdAt": to_ms(s.created_at),
        "updatedAt": to_ms(s.updated_at),
        "completedAt": to_ms(s.completed_at),
    }


def task_repr(t: Task, *, timeline_rows: Iterable[TaskTimelineEvent] | None = None,
              subtasks: Iterable[Subtask] | None = None, session_ids: list[str] | None = None) -> TaskOut:
    """The API shape of a task. Its relations are read from ``t`` (prefetched by the selectors)
    unless given: a service that has just written them passes them in instead of re-reading."""
    read: TaskRelations | None = getattr(t, "relations", None)  # read with the task (the selectors)
    if read is not None:
        timeline_rows = read.timeline if timeline_rows is None else timeline_rows
        subtasks = read.subtasks if subtasks is None else subtasks
        session_ids = read.session_ids if session_ids is None else session_ids
    timeline: list[TaskTimelineOut] = []
    for e in t.timeline.all() if timeline_rows is None else timeline_rows:
        item: TaskTimelineOut = {"id": e.id, "type": e.type, "timestamp": to_ms(e.timestamp), "message": e.message}
        if e.session_id:
            item["sessionId"] = e.session_id
        timeline.append(item)
    return {
        "id": t.id,
        "projectId": t.project_id,
        "parentId": t.parent_id,
        "title": t.title,
        "description": t.description,
        "initialPrompt": t.initial_prompt,
        "status": t.status,
        "priority": t.priority,
        "sessionIds": [link.session.id for link in t.session_links.all()] if session_ids is None else session_ids,
        "skillIds": t.skill_ids,
        "agentIds": t.agent_ids,
        "dependencies": t.dependencies,
        "sessionStatus": t.session_status or None,
        "version": t.version,
        "subtasks": [subtask_repr(s) for s in (t.subtasks.all() if subtasks is None else subtasks)],
        "timeline": timeline,
        "createdAt": to_ms(t.created_at),
        "updatedAt": to_ms(t.updated_at),
        "startedAt": to_ms(t.started_at),
        "completedAt": to_ms(t.completed_at),
    }


def session_repr(s: Session) -> SessionOut:
    timeline: list[SessionTimelineOut] = []
    for e in s.timeline.all():
        item: SessionTimelineOut = {"id": e.id, "type": e.type, "timestamp": to_ms(e.timestamp),
                                    "message": e.message}
        if e.task_id:
            item["taskId"] = e.task_id
        if e.metadata is not None:
            item["metadata"] = e.metadata
        timeline.append(item)
    return {
        "id": s.id,
        "projectId": s.project_id,
        "taskIds": [link.task_id for link in s.task_links.all()],
        "name": s.name,
        "agentId": s.agent_id,
        "status": s.status,
        "env": s.env,
        "events": [{"id": e.id, "type": e.type, "data": e.data, "timestamp": to_ms(e.timestamp)}
                   for e in s.events.all()],
        "timeline": timeline,
        "metadata": s.metadata,
        "hostname": s.hostname,
        "platform": s.platform,
        "version": s.version,
        "startedAt": to_ms(s.started_at),
        "lastActivity": to_ms(s.last_activity),
        "completedAt": to_ms(s.completed_at),
    }
