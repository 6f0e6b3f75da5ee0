"""Jobs of the event log: retention."""

from __future__ import annotations

from maestro.queue import Queue, job
from realtime.services import events_prune

PRUNE_EVENTS_JOB = "realtime.prune_events"


@job(PRUNE_EVENTS_JOB, queue=Queue.PERIODIC, soft_time_limit=120, time_limit=180)
def prune_events() -> int:
    """Retention of the event log, by age and count (settings MAESTRO_EVENT_RETENTION_*)."""
    return events_prune()
