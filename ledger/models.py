import uuid

from django.db import models


class IntakeEntry(models.Model):
    """An appended, not yet sequenced ledger entry. Written in the caller's transaction with
    no lock and no chain work; the sequencer turns these into chained entries in batches."""

    pk_id = models.BigAutoField(primary_key=True)
    id = models.UUIDField(default=uuid.uuid4, unique=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    timestamp = models.DateTimeField()
    action_type = models.CharField(max_length=100)
    resource_type = models.CharField(max_length=100)
    resource_id = models.CharField(max_length=200)
    actor_id = models.CharField(max_length=200)
    actor_type = models.CharField(max_length=16)
    payload = models.JSONField()
    metadata = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["tenant", "pk_id"], name="ledger_intake_tenant_idx")]
