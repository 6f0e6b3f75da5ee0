from django.db import models

from orchestration.ids import new_id


def _session_id() -> str:
    return new_id("sess")


def _event_id() -> str:
    return new_id("evt")


class Session(models.Model):
    class Status(models.TextChoices):
        SPAWNING = "spawning"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        STOPPED = "stopped"

    ENDED = (Status.COMPLETED, Status.FAILED, Status.STOPPED)

    id = models.CharField(primary_key=True, max_length=40, default=_session_id)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey("orchestration.Project", on_delete=models.PROTECT, related_name="sessions")
    tasks = models.ManyToManyField("orchestration.Task", through="SessionTask", related_name="sessions")
    name = models.CharField(max_length=500)
    agent_id = models.CharField(max_length=200, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    env = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    hostname = models.CharField(max_length=255, blank=True, default="")
    platform = models.CharField(max_length=64, blank=True, default="")
    started_at = models.DateTimeField()
    last_activity = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [
            models.Index(fields=["tenant", "started_at", "id"], name="session_tenant_keyset_idx"),
            models.Index(fields=["tenant", "status"], name="session_tenant_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class SessionTask(models.Model):
    """The task↔session link; both sides' id lists are views of these rows, so the two
    directions cannot disagree."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="task_links")
    task = models.ForeignKey("orchestration.Task", on_delete=models.CASCADE, related_name="session_links")
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
