from typing import Annotated, Any, TypedDict

from django.db import models

from maestro.core.wire import EpochMs, to_ms


class EventOut(TypedDict):
    """An event as the stream and ``GET /api/events`` send it: the envelope of DESIGN §5."""

    type: str
    event: str
    data: dict[str, Any]
    timestamp: EpochMs
    seq: Annotated[int, "the tenant's gapless event sequence"]


class EventStream(models.Model):
    """Per-tenant event counter. Its row is updated as the last statement of a write
    transaction, so the lock is held only until that commit and seqs are gapless."""

    tenant = models.OneToOneField("tenancy.Tenant", on_delete=models.CASCADE, primary_key=True,
                                  related_name="event_stream")
    last_seq = models.BigIntegerField(default=0)


class Event(models.Model):
    """The event log: what the UI and WebSocket clients see, replayable by ``seq``."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField()
    type = models.CharField(max_length=64)
    data = models.JSONField()
    project_id = models.CharField(max_length=40, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    # Shown on ``/`` too, the old system's stream for its unchanged clients (DESIGN §5).
    old_stream = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "seq"], name="uniq_event_tenant_seq")]
        indexes = [models.Index(fields=["created_at"], name="event_created_idx")]

    def envelope(self) -> EventOut:
        return {
            "type": self.type,
            "event": self.type,
            "data": self.data,
            "timestamp": to_ms(self.created_at),
            "seq": self.seq,
        }


class Installation(models.Model):
    """One row: this installation's random identity, made by the first ``migrate``. Every
    process that uses this database (web, worker, scheduler, after any restart) reads the
    same key; another installation has its own database and so another key. The channel
    layer's names are derived from it (realtime/layers.py): Redis pub/sub ignores the
    database number, so installations sharing a Redis server must differ by name."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    key = models.CharField(max_length=32)
