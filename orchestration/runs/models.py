import uuid

from django.db import models
from django.utils import timezone


def _run_id() -> str:
    return str(uuid.uuid4())


class Run(models.Model):
    """A pipeline run, in the old ``runs`` table's shape (snake_case, string ids). The
    orchestration engine adds steps and execution on top of these rows."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.CharField(primary_key=True, max_length=64, default=_run_id)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    pipeline_id = models.CharField(max_length=200, blank=True, default="")
    pipeline = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    cost = models.FloatField(default=0.0)
    input_params = models.JSONField(default=dict, blank=True)
    output_data = models.JSONField(null=True, blank=True)
    error_message = models.TextField(blank=True, default="")
    failure_details = models.JSONField(null=True, blank=True)
    executor_id = models.CharField(max_length=200, blank=True, default="")
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="run_tenant_recent_idx"),
            models.Index(fields=["tenant", "status", "completed_at"], name="run_tenant_status_idx"),
            # runs finished in a window, whatever their status (agent metrics, health, charts)
            models.Index(fields=["tenant", "completed_at"], name="run_tenant_completed_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="uniq_run_idempotency_key",
                                    condition=models.Q(idempotency_key__isnull=False)),
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "succeeded", "failed", "cancelled"]),
                name="run_status_valid"),
            models.CheckConstraint(condition=models.Q(cost__gte=0), name="run_cost_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline} {self.id} ({self.status})"
