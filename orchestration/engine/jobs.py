"""The engine's Celery jobs: one step execution per message (late-acked on the ``steps`` queue,
requeued if its worker dies; a duplicate delivery finds the step no longer queued and does
nothing), and the reaper, enqueued by the scheduler leader."""

from __future__ import annotations

from maestro.queue import Queue, job
from orchestration.engine.services.execute import step_run
from orchestration.engine.services.steps import STEP_JOB, steps_reap


@job(STEP_JOB, queue=Queue.STEPS, acks_late=True, reject_on_worker_lost=True)
def step(step_pk: int) -> str:
    return step_run(step_pk=step_pk)


@job("engine.reap", queue=Queue.PERIODIC, soft_time_limit=60)
def reap() -> int:
    return steps_reap()
