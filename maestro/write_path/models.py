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


class IdempotencyRecord(models.Model):
    """The answer to a write sent with an ``Idempotency-Key``, stored in the transaction of the
    write itself: a retry with the same key and the same request gets this answer again, and the
    write is not repeated; the same key with another request is refused (422)."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of the method, path and canonical JSON body the key was first used with.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    body = models.JSONField(null=True)
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="uniq_idempotency_tenant_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code})"
