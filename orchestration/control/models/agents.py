from django.db import models

from orchestration.control.models.base import ControlObject


class AgentProfile(ControlObject):
    """An agent the router can send work to. Its metrics are not stored: they are counted from
    the runs it executed (orchestration.control.selectors.agents.agent_metrics)."""

    class Status(models.TextChoices):
        HEALTHY = "healthy"
        DEGRADED = "degraded"

    name = models.CharField(max_length=200)
    role = models.CharField(max_length=200, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.HEALTHY)
    # Percent of eligible traffic this agent receives (0 = drained).
    routing_weight = models.PositiveSmallIntegerField(default=100)

    class Meta(ControlObject.Meta):
        verbose_name = "agent profile"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="uniq_agent_tenant_slug"),
            models.CheckConstraint(condition=models.Q(status__in=["healthy", "degraded"]), name="agent_status_valid"),
            models.CheckConstraint(condition=models.Q(routing_weight__gte=0, routing_weight__lte=100),
                                   name="agent_routing_weight_0_100"),
        ]
