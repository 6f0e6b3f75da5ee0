from django.db import models

from orchestration.control.models.base import ControlObject


class AgentProfile(ControlObject):
    """An agent the router can send work to. The three metrics are columns, not a JSON blob, so
    the database refuses a string latency or a negative cost."""

    class Status(models.TextChoices):
        HEALTHY = "healthy"
        DEGRADED = "degraded"

    name = models.CharField(max_length=200)
    role = models.CharField(max_length=200, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.HEALTHY)
    success_rate = models.FloatField("success rate (%)", default=100.0)
    latency_p95 = models.FloatField("latency p95 (ms)", default=0.0)
    cost_per_task = models.FloatField("cost per task", default=0.0)
    # Percent of eligible traffic this agent receives (0 = drained).
    routing_weight = models.PositiveSmallIntegerField(default=100)

    class Meta(ControlObject.Meta):
        verbose_name = "agent profile"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="uniq_agent_tenant_slug"),
            models.CheckConstraint(condition=models.Q(status__in=["healthy", "degraded"]), name="agent_status_valid"),
            models.CheckConstraint(condition=models.Q(routing_weight__gte=0, routing_weight__lte=100),
                                   name="agent_routing_weight_0_100"),
            models.CheckConstraint(condition=models.Q(success_rate__gte=0, success_rate__lte=100),
                                   name="agent_success_rate_0_100"),
            models.CheckConstraint(condition=models.Q(latency_p95__gte=0), name="agent_latency_nonneg"),
            models.CheckConstraint(condition=models.Q(cost_per_task__gte=0), name="agent_cost_nonneg"),
        ]
