from django.db import models

from orchestration.control.models.base import ControlObject


class Playbook(ControlObject):
    """A remediation recipe: when one of ``triggers`` fires, run ``actions`` (if enabled)."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    triggers = models.JSONField(default=list, blank=True)
    actions = models.JSONField(default=list, blank=True)
    is_enabled = models.BooleanField("enabled", default=False)

    class Meta(ControlObject.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="uniq_playbook_tenant_slug"),
            models.CheckConstraint(condition=~models.Q(name=""), name="playbook_name_not_blank"),
        ]
