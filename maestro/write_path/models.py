from django.db import models


class AuditEvent(models.Model):
    """Who did what, allowed or denied; written in the same transaction as the change (a
    denial in a transaction of its own, after the refused change rolled back)."""

    class Status(models.TextChoices):
        ALLOWED = "allowed"
        DENIED = "denied"

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    timestamp = models.DateTimeField(auto_now_add=True, db_index=True)
    legacy_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    actor = models.CharField(max_length=150)
    actor_type = models.CharField(max_length=16, default="user")
    action = models.CharField(max_length=100)
    resource = models.CharField(max_length=200, blank=True, default="")
    resource_type = models.CharField(max_length=50, blank=True, default="")
    details = models.TextField(blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ALLOWED)
    policy_id = models.CharField(max_length=100, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [models.Index(fields=["tenant", "-timestamp", "-id"], name="audit_tenant_ts_idx")]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.resource} ({self.status})"
