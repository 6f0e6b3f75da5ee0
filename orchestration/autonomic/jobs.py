"""Jobs of the loops: the dispatcher the scheduler leader enqueues every few seconds, and one
tick per due loop on the loops queue."""

from __future__ import annotations

from django.utils import timezone

from maestro.queue import Queue, job, wake, woken
from orchestration.autonomic.selectors import loops_due
from orchestration.autonomic.services import loop_tick_due

DISPATCH_JOB = "autonomic.dispatch"
TICK_JOB = "autonomic.tick"


@job(DISPATCH_JOB, queue=Queue.PERIODIC, soft_time_limit=60, time_limit=90)
def dispatch_job() -> int:
    """Enqueues a tick for each due loop, unless one for that loop is still waiting (so a slow
    queue never fills with the same loop's ticks). Whether a tick runs is decided by its claim,
    not here: two dispatchers at once cost a wasted message, never a second tick."""
    due = loops_due(now=timezone.now())
    for loop_pk in due:
        wake(TICK_JOB, loop_pk, embedded_delay=None)
    return len(due)


@job(TICK_JOB, queue=Queue.LOOPS, soft_time_limit=120, time_limit=180)
def tick_job(loop_pk: int) -> str | None:
    woken(TICK_JOB, loop_pk)
    decision = loop_tick_due(loop_pk=loop_pk)
    return None if decision is None else decision.action
