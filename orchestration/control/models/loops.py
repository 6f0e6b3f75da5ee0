from django.db import models

from orchestration.control.models.base import ControlObject


class AutonomicLoop(ControlObject):
    """A MAPE-K control loop (DESIGN §7.2). ``config`` is validated against the JSON schema of
    its ``type`` (orchestration/schemas/loop_config_<type>.json) by the services."""

    class Type(models.TextChoices):
        RELIABILITY = "reliability"
        COST = "cost"
        PERFORMANCE = "performance"
        SAFETY = "safety"

    class Status(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"

    name = models.CharField(max_length=200)
    type = models.CharField(max_length=16, choices=Type.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    last_decision = models.TextField(blank=True, default="")
    last_run = models.DateTimeField(null=True, blank=True)
    config = models.JSONField(default=dict, blank=True)

    class Meta(ControlObject.Meta):
        verbose_name = "autonomic loop"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="uniq_loop_tenant_slug"),
            models.CheckConstraint(condition=models.Q(status__in=["active", "paused"]), name="loop_status_valid"),
            models.CheckConstraint(condition=models.Q(type__in=["reliability", "cost", "performance", "safety"]),
                                   name="loop_type_valid"),
        ]


class LoopDecision(models.Model):
    """The decision history of a loop; the loop row keeps only the latest (``last_decision``).
    ``decision`` is the summary old clients read as ``lastDecision``; ``action`` what the tick
    did (``none`` when nothing crossed a threshold)."""

    NONE = "none"

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    loop = models.ForeignKey(AutonomicLoop, on_delete=models.CASCADE, related_name="decisions")
    action = models.CharField(max_length=32, default=NONE)
    decision = models.TextField("summary")
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="loop_decision_tenant_ts_idx"),
                   models.Index(fields=["loop", "-created_at", "-id"], name="loop_decision_history_idx")]

    def __str__(self) -> str:
        return self.decision[:80]
