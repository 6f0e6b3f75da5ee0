"""Work items (the old Maestro Server's data): projects, tasks with their subtasks and
timeline, agent sessions with their events, timeline and links to tasks. Ids keep the old
system's ``<prefix>_<ms>_<rand9>`` shape."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from orchestration.work.ids import new_id


def _project_id() -> str:
    return new_id("proj")


def _task_id() -> str:
    return new_id("task")


def _subtask_id() -> str:
    return new_id("sub")


def _session_id() -> str:
    return new_id("sess")


def _event_id() -> str:
    return new_id("evt")


class Project(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=_project_id)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=500)
    working_dir = models.CharField(max_length=2000, blank=True, default="")
    description = models.TextField(blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["tenant", "created_at", "id"], name="project_tenant_keyset_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


@dataclass(frozen=True)
class TaskRelations:
    """A task's timeline (in order), subtasks (in order) and the ids of its sessions, read with
    the task in one query (orchestration.work.selectors.tasks) and set as ``task.relations``."""

    timeline: list[TaskTimelineEvent]
    subtasks: list[Subtask]
    session_ids: list[str]


class Task(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        IN_PROGRESS = "in_progress"
        BLOCKED = "blocked"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    class Priority(models.TextChoices):
        LOW = "low"
        MEDIUM = "medium"
        HIGH = "high"

    # Set by the selectors that read a task with its relations in one query; not a column.
    relations: TaskRelations
    id = models.CharField(primary_key=True, max_length=40, default=_task_id)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="tasks")
    # Deleting a parent does not delete its children (old policy); they become roots.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    title = models.CharField(max_length=1000)
    description = models.TextField(blank=True, default="")
    initial_prompt = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.MEDIUM)
    skill_ids = models.JSONField(default=list, blank=True)
    agent_ids = models.JSONField(default=list, blank=True)
    dependencies = models.JSONField(default=list, blank=True)
    # The status a working session last reported for this task (DESIGN §4.1, "task sessionStatus").
    session_status = models.CharField(max_length=16, blank=True, default="")
    # Moves with every change of the task as the API shows it (If-Match, DESIGN §4).
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["tenant", "created_at", "id"], name="task_tenant_keyset_idx"),
            models.Index(fields=["project", "created_at", "id"], name="task_project_keyset_idx"),
            models.Index(fields=["tenant", "status"], name="task_tenant_status_idx"),
            # tasks completed in the last hour (health, dashboard)
            models.Index(fields=["tenant", "completed_at"], name="task_tenant_completed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.id})"


class TaskTimelineEvent(models.Model):
    class Type(models.TextChoices):
        CREATED = "created"
        SESSION_STARTED = "session_started"
        SESSION_ENDED = "session_ended"
        UPDATE = "update"
        MILESTONE = "milestone"
        BLOCKER = "blocker"
        PROGRESS = "progress"
        TASK_STATUS_CHANGED = "task_status_changed"

    pk_id = models.BigAutoField(primary_key=True)
    id = models.CharField(max_length=40, default=_event_id, db_index=True)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="timeline")
    type = models.CharField(max_length=32, choices=Type.choices, default=Type.UPDATE)
    timestamp = models.DateTimeField()
    message = models.TextField(blank=True, default="")
    session_id = models.CharField(max_length=40, null=True, blank=True)

    class Meta:
        ordering = ["timestamp", "pk_id"]

    def __str__(self) -> str:
        return f"{self.type}: {self.message[:60]}"


class Subtask(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=_subtask_id)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="subtasks")
    title = models.CharField(max_length=1000)
    description = models.TextField(blank=True, default="")
    completed = models.BooleanField(default=False)
    order = models.IntegerField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "created_at", "id"]

    def __str__(self) -> str:
        return self.title


class Session(models.Model):
    class Status(models.TextChoices):
        SPAWNING = "spawning"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        STOPPED = "stopped"

    ENDED = (Status.COMPLETED, Status.FAILED, Status.STOPPED)

    # The old clients choose their own ids, so an id is unique within its tenant only: a
    # global one would answer 409 for another tenant's id and so reveal that it exists. Rows
    # reference a session by this surrogate key; callers name it by (tenant, id).
    pk_id = models.BigAutoField(primary_key=True)
    id = models.CharField(max_length=40, default=_session_id)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="sessions")
    tasks = models.ManyToManyField(Task, through="SessionTask", related_name="sessions")
    name = models.CharField(max_length=500)
    agent_id = models.CharField(max_length=200, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    env = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    hostname = models.CharField(max_length=255, blank=True, default="")
    platform = models.CharField(max_length=64, blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField()
    last_activity = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [
            models.Index(fields=["tenant", "started_at", "id"], name="session_tenant_keyset_idx"),
            models.Index(fields=["tenant", "status"], name="session_tenant_status_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["tenant", "id"], name="uniq_session_tenant_id")]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class SessionTask(models.Model):
    """The task↔session link; both sides' id lists are views of these rows, so the two
    directions cannot disagree."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="task_links")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="session_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["session", "task"], name="uniq_session_task")]


class SessionEvent(models.Model):
    pk_id = models.BigAutoField(primary_key=True)
    id = models.CharField(max_length=40, default=_event_id)
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=100)
    data = models.JSONField(null=True, blank=True)
    timestamp = models.DateTimeField()

    class Meta:
        ordering = ["timestamp", "pk_id"]


class SessionTimelineEvent(models.Model):
    pk_id = models.BigAutoField(primary_key=True)
    id = models.CharField(max_length=40, default=_event_id)
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="timeline")
    type = models.CharField(max_length=32, default="progress")
    timestamp = models.DateTimeField()
    message = models.TextField(blank=True, default="")
    task_id = models.CharField(max_length=40, null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["timestamp", "pk_id"]


class SessionQueueItem(models.Model):
    """One task in the queue of a ``queue``-strategy session (the old CLI's ``maestro queue``):
    processed first in, first out, at most one at a time."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        PROCESSING = "processing"
        COMPLETED = "completed"
        FAILED = "failed"
        SKIPPED = "skipped"

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="queue_items")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    added_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    fail_reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["session", "task"], name="uniq_session_queue_task")]
