from celery import shared_task

from realtime.services import events_prune


@shared_task(name="realtime.prune_events", ignore_result=True, soft_time_limit=120, time_limit=180)
def prune_events() -> int:
    """Retention of the event log, by age and count (settings MAESTRO_EVENT_RETENTION_*)."""
    return events_prune()
