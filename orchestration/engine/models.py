"""The workflow engine's rows (DESIGN §7.1): versioned workflow definitions, the steps of each
run (a DAG, moved by compare-and-set), every step transition (the run's timeline) and the dead
letters of steps that exhausted their retries. The runs themselves are ``orchestration.runs``."""

import uuid

from django.db import models
from django.utils import timezone


def _uuid() -> str:
    return str(uuid.uuid4())


class WorkflowDefinition(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=_uuid)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    spec = models.JSONField(default=dict)
    spec_yaml = models.TextField("spec (YAML)", blank=True, default="")
    is_enabled = models.BooleanField("enabled", default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name", "version"], name="uniq_workflow_version"),
            models.CheckConstraint(condition=~models.Q(name=""), name="workflow_name_not_blank"),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="workflow_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


STEP_STATUSES = ["pending", "queued", "running", "succeeded", "retrying", "dead", "skipped", "cancelled"]


class RunStep(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        RETRYING = "retrying"
        DEAD = "dead"
        SKIPPED = "skipped"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.DEAD, Status.SKIPPED, Status.CANCELLED)

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey("orchestration.Run", on_delete=models.CASCADE, related_name="steps")
    step_id = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    action = models.CharField(max_length=200)
    params = models.JSONField(default=dict, blank=True)
    depends_on = models.JSONField(default=list, blank=True)
    # Retry policy (DESIGN §7.1: one attempt by default); intervals in seconds.
    max_attempts = models.PositiveIntegerField(default=1)
    initial_interval = models.FloatField(default=1.0)
    backoff_coefficient = models.FloatField(default=2.0)
    max_interval = models.FloatField(null=True, blank=True)
    timeout = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)  # of the current life (a replay starts again)
    executions = models.PositiveIntegerField(default=0)  # every start, replays included
    available_at = models.DateTimeField(null=True, blank=True)  # a retry's earliest start
    # When its message was last sent: a step queued long ago whose message was lost (the broker
    # was down at the commit) is sent again by the reaper.
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    output = models.JSONField(null=True, blank=True)
    # A running step's lease: its worker extends it while the action runs; the reaper requeues
    # a step whose lease expired (the worker vanished).
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        # (Not "run": ordering by a foreign key joins the run's table into every query of steps.)
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "step_id"], name="uniq_run_step_id"),
            models.CheckConstraint(condition=models.Q(status__in=STEP_STATUSES), name="run_step_status_valid"),
            models.CheckConstraint(condition=models.Q(max_attempts__gte=1), name="run_step_attempts_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "lease_expires_at"], name="run_step_lease_idx"),
            models.Index(fields=["tenant", "status"], name="run_step_tenant_status_idx"),
            # the dashboard's step charts: a tenant's steps finished in the last hour
            models.Index(fields=["tenant", "finished_at"], name="run_step_tenant_finished_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.step_id} ({self.status})"


class StepTransition(models.Model):
    """One step transition: the run's timeline, oldest first."""

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey("orchestration.Run", on_delete=models.CASCADE, related_name="+")
    step = models.ForeignKey(RunStep, on_delete=models.CASCADE, related_name="transitions")
    status = models.CharField(max_length=10, choices=RunStep.Status.choices)
    attempt = models.PositiveIntegerField(default=0)
    timestamp = models.DateTimeField(default=timezone.now)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "id"], name="step_transition_run_idx")]


class DeadLetter(models.Model):
    """A step that exhausted its retries; replaying it queues the step again."""

    id = models.CharField(primary_key=True, max_length=64, default=_uuid)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey("orchestration.Run", on_delete=models.CASCADE, related_name="+")
    run_step = models.ForeignKey(RunStep, on_delete=models.CASCADE, related_name="dead_letters")
    step_id = models.CharField(max_length=100)
    action = models.CharField(max_length=200)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at", "-id"], name="dead_letter_recent_idx")]

    def __str__(self) -> str:
        return f"{self.step_id} of {self.run_id}"
