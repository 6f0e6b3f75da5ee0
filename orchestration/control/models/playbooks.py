from django.db import models

from orchestration.control.models.slugs import slug_validator


class Playbook(models.Model):
    """A remediation recipe: when one of ``triggers`` fires, run ``actions`` (if enabled)."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    slug = models.CharField("id", max_length=100, validators=[slug_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    triggers = models.JSONField(default=list, blank=True)
    actions = models.JSONField(default=list, blank=True)
    is_enabled = models.BooleanField("enabled", default=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="uniq_playbook_tenant_slug"),
            models.CheckConstraint(condition=~models.Q(name=""), name="playbook_name_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"
