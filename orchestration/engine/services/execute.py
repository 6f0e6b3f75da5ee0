"""Executing one step: begin (compare-and-set to ``running`` with a lease), run its action in a
thread of its own while this one extends the lease and watches the step's timeout, then record
the result by compare-and-set (a result that lost the race — a cancel, the reaper — is dropped)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from django.db import connections

from orchestration.base.actions import REGISTRY, ActionFailed, StepContext
from orchestration.engine.models import RunStep
from orchestration.engine.services import steps as machine
from orchestration.runs.models import Run

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{__import__('os').getpid()}"


class _Outcome:
    def __init__(self) -> None:
        self.output: Any = None
        self.error: str | None = None
        self.retryable = True


def step_run(*, step_pk: int) -> str:
    """Runs step ``step_pk`` once if it is due; returns what became of it (for logs and tests):
    ``skipped`` (nothing to run), ``succeeded``, ``failed``, ``discarded`` (the result lost)."""
    step = machine.step_begin(step_pk=step_pk, worker=WORKER)
    if step is None:
        return "skipped"
    outcome = _execute(step)
    if outcome.error is None:
        return "succeeded" if machine.step_succeed(step, output=outcome.output) else "discarded"
    done = machine.step_fail(step, error=outcome.error, retryable=outcome.retryable)
    return "failed" if done else "discarded"


def _context(step: RunStep, deadline: float | None) -> StepContext:
    run: Run = step.run
    outputs = dict(RunStep.objects.filter(run_id=run.id, step_id__in=step.depends_on)
                   .values_list("step_id", "output"))
    return StepContext(tenant=step.tenant, actor=machine.ENGINE, run_id=run.id, step_id=step.step_id,
                       params=dict(step.params), input=dict(run.input_params), attempt=step.attempts,
                       execution=step.executions, deadline=deadline, outputs=outputs)


def _execute(step: RunStep) -> _Outcome:
    outcome = _Outcome()
    action = REGISTRY.get(step.action)
    if action is None:
        outcome.error, outcome.retryable = f"unknown action {step.action}", False
        return outcome
    deadline = time.monotonic() + step.timeout if step.timeout else None
    context = _context(step, deadline)
    finished = threading.Event()

    def work() -> None:
        try:
            outcome.output = action(context)
        except ActionFailed as exc:
            outcome.error = str(exc) or type(exc).__name__
        except Exception as exc:  # an action's bug fails its step, never the worker
            log.warning("step action raised", exc_info=True, extra={"event": "engine.action_error",
                                                                     "action": step.action})
            outcome.error = f"{type(exc).__name__}: {exc}"
        finally:
            connections.close_all()
            finished.set()

    thread = threading.Thread(target=work, name=f"step-{step.pk}", daemon=True)
    thread.start()
    beat = max(0.05, machine.lease_seconds(step) / 3)
    while not finished.wait(beat if deadline is None else max(0.0, min(beat, deadline - time.monotonic()))):
        if deadline is not None and time.monotonic() >= deadline:
            outcome.error = f"timed out after {step.timeout:g}s"
            break
        if not machine.heartbeat(step):
            break  # cancelled or reaped: whatever it returns is discarded by the compare-and-set
    return outcome
