from django.db import models

from orchestration.control.models.base import ControlObject


class Experiment(ControlObject):
    """An A/B experiment (DESIGN §7.3). Variants are rows of their own so their traffic weights
    are data the database can check, not a list in a blob."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        RUNNING = "running"
        COMPLETED = "completed"

    name = models.CharField(max_length=200)
    hypothesis = models.TextField(blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # The old free-form summary (e.g. {"latency": -12, "successRate": 2}); measured results
    # come from observations (see selectors.experiments.experiment_results).
    metrics = models.JSONField(default=dict, blank=True)
    stop_conditions = models.JSONField(default=list, blank=True)
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)

    class Meta(ControlObject.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="uniq_experiment_tenant_slug"),
            models.CheckConstraint(condition=models.Q(status__in=["draft", "running", "completed"]),
                                   name="experiment_status_valid"),
        ]


class ExperimentVariant(models.Model):
    id = models.BigAutoField(primary_key=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variant_rows")
    key = models.CharField("id", max_length=100)
    traffic_weight = models.PositiveSmallIntegerField()
    config_overrides = models.JSONField(default=dict, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "key"], name="uniq_experiment_variant_key"),
            models.CheckConstraint(condition=models.Q(traffic_weight__lte=100), name="variant_weight_le_100"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.traffic_weight}%)"


class ExperimentObservation(models.Model):
    """One metric value observed for one variant (optionally for one entity)."""

    id = models.BigAutoField(primary_key=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="observations")
    variant_key = models.CharField(max_length=100)
    entity_id = models.CharField(max_length=200, blank=True, default="")
    metric = models.CharField(max_length=100)
    value = models.FloatField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["experiment", "variant_key", "metric"], name="observation_agg_idx")]
