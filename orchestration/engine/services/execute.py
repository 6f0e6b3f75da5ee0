"""Executing one step: begin (compare-and-set to ``running`` with a lease), run its action while
the process's heartbeat thread extends the lease (in a thread of its own when the step has a
timeout), then record the result by compare-and-set (a result that lost the race — a cancel,
the reaper — is dropped).

Each execution is a span of its own (``engine.step.execute``, with the run, step, action and
attempt), a child of the job that ran it or, for a step a worker carried on with, of the step
that released it; the messages a step sends for the steps it released are sent inside its span.
So a run's trace (maestro/tracing.py) shows every step where the DAG has it, however many went
through the broker."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connections
from opentelemetry import context as trace_context
from opentelemetry.trace import Status, StatusCode

from maestro import tracing
from maestro.core.exceptions import Refusal
from maestro.policy.decisions import Subject, Verdict, decide, policy_input, step_input_fields
from maestro.queue import enqueue_later_on_commit
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Resource
from maestro.write_path.models import AuditEvent
from maestro.write_path.services import record, record_denied, refusal_record
from orchestration.base.actions import REGISTRY, ActionFailed, StepContext
from orchestration.engine import clock
from orchestration.engine.models import RunStep
from orchestration.engine.selectors import step_get
from orchestration.engine.services import steps as machine
from orchestration.runs.models import Run

log = logging.getLogger(__name__)
S = RunStep.Status
HOST = socket.gethostname()
SPAN = "engine.step.execute"


class _Outcome:
    def __init__(self) -> None:
        self.output: Any = None
        self.error: str | None = None
        self.retryable = True


def step_run(*, step_pk: int) -> str:
    """Runs step ``step_pk`` once if it is due; returns what became of it (for logs and tests):
    ``skipped`` (nothing to run), ``succeeded``, ``failed``, ``discarded`` (the result lost)."""
    # host:pid of this job process (read per call: Celery's pool processes fork after import)
    worker = f"{HOST}:{os.getpid()}"
    peek = step_get(step_pk=step_pk)
    if peek is None or peek.status not in (S.QUEUED, S.RETRYING):
        return "skipped"  # a duplicate delivery, a cancelled run: one query
    if machine.carriable(peek):
        return _run_carrying_on(peek, worker)
    return _traced(peek, None, lambda: _run_alone(peek, worker))


def _run_alone(peek: RunStep, worker: str) -> str:
    # Asked before any transaction opens (an OPA server may take its timeout to answer); the
    # denial is recorded only once the step is begun, so a duplicate delivery records nothing.
    verdict = _policy_verdict(peek, peek.run, peek.tenant)
    step = machine.step_begin(step_pk=peek.pk, worker=worker)
    if step is None:
        return "skipped"
    if not verdict.allowed:
        record_denied(**_denial(step, verdict))
        done = machine.step_fail(step, error=_refused(step, verdict), retryable=False)
        return "failed" if done else "discarded"
    outcome = _execute(step)
    if outcome.error is None:
        return "succeeded" if machine.step_succeed(step, output=outcome.output) else "discarded"
    done = machine.step_fail(step, error=outcome.error, retryable=outcome.retryable)
    return "failed" if done else "discarded"


def _traced(step: RunStep, parent: trace_context.Context | None, execute: Callable[[], str]) -> str:
    """``execute()`` (one execution of ``step``) in a span of its own, under ``parent`` (else the
    current span), which names what became of it."""
    # the attempt this execution is, once it begins (begin counts it)
    attributes: dict[str, str | int] = {"maestro.run.id": step.run_id, "maestro.step.id": step.step_id,
                                        "maestro.step.action": step.action, "maestro.step.attempt": step.attempts + 1}
    spans = tracing.tracer("maestro.engine")
    with spans.start_as_current_span(SPAN, context=parent, attributes=attributes) as span:
        result = execute()
        span.set_attribute("maestro.step.outcome", result)
        if result == "failed":
            span.set_status(Status(StatusCode.ERROR))
        return result


def _run_carrying_on(step: RunStep, worker: str) -> str:
    """Runs ``step`` (see :func:`_run_in_one_transaction`), then the short steps it and they
    released, up to ``MAESTRO_ENGINE_CARRY_STEPS`` of them, each in its own transaction
    (steps.dispatch; the others get messages). Returns what became of ``step``."""
    carry = machine.Carry(settings.MAESTRO_ENGINE_CARRY_STEPS)
    released_by: dict[int, trace_context.Context] = {}  # a carried step's pk -> the span that released it

    def run(next_step: RunStep) -> str:
        def execute() -> str:
            before = len(carry)
            # The policy is asked outside the step's transaction; a released step is of the same run.
            verdict = _policy_verdict(next_step, step.run, step.tenant)
            result = _run_in_one_transaction(next_step, worker, carry, verdict)
            released_by.update({s.pk: trace_context.get_current() for s in carry[before:]})
            return result

        return _traced(next_step, released_by.get(next_step.pk), execute)

    try:
        outcome = run(step)
        while carry:  # depth first: a chain goes on before its siblings
            run(carry.take())
    finally:
        # Only when a unit raised (the database gone, say): the steps still to run get their
        # messages now rather than the reaper's resend later (one of the failed unit, not queued
        # after all, is skipped when its message comes).
        for left in carry:
            token = trace_context.attach(released_by.get(left.pk, trace_context.get_current()))
            try:
                enqueue_later_on_commit(machine.STEP_JOB, left.pk)
            finally:
                trace_context.detach(token)
    return outcome


class _ActionRaised(Exception):
    """A transactional action raised: its unit is rolled back, the error recorded in a new one."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _run_in_one_transaction(step: RunStep, worker: str, carry: machine.Carry, verdict: Verdict) -> str:
    """A transactional action's step, whole in one unit: the run's row locked, begin, the action,
    the result and the steps it releases. The action runs in the unit itself, with no savepoint
    of its own: when it raises, the whole unit rolls back (its writes with the step's begin) and
    :func:`_record_failure` begins the step again in a new unit to record the failure. A worker
    that dies meanwhile leaves the step queued, its message redelivered."""
    before = len(carry)
    try:
        with machine.transition():
            run = machine.lock_run(step.run_id)
            action = REGISTRY.get(step.action)
            if verdict.allowed and action is not None:
                read_at = machine.begin_in_unit(step, run, worker=worker)
                if read_at is None or run is None:
                    return "skipped"
                try:
                    output = action(_context(step, None))
                except Exception as exc:
                    raise _ActionRaised(exc) from exc
                machine.succeeded_in_unit(run, step, read_at, output=output, carry=carry)
                return "succeeded"
            if machine.begin(step, run, worker=worker, limited=False) is None:
                return "skipped"
            outcome = _Outcome()
            if not verdict.allowed:  # the denial commits with the step's failure
                record(**_denial(step, verdict), status=AuditEvent.Status.DENIED)
                outcome.error, outcome.retryable = _refused(step, verdict), False
            else:  # unregistered since the peek (a plugin reloaded): as in _execute
                outcome.error, outcome.retryable = f"unknown action {step.action}", False
            done = machine.failed(run, step, error=outcome.error, retryable=outcome.retryable)
            return "failed" if done else "discarded"
    except _ActionRaised as raised:
        return _record_failure(step.pk, worker, raised.error)
    except machine.StepTaken:  # by another delivery meanwhile: what the action wrote is rolled back
        del carry[before:]  # released in this unit, so not queued after all
        return "skipped"


def _record_failure(step_pk: int, worker: str, error: Exception) -> str:
    """The unit whose action raised ``error`` rolled back: the step (read again: the unit's
    changes to it are gone) begins once more and fails with that error — retried or dead as
    its policy says; a refusal from a ``maestro.*`` action is audited as denied, as a call
    from outside would be."""
    step = step_get(step_pk=step_pk)
    if step is None:
        return "discarded"
    outcome = _Outcome()
    with machine.transition():
        run = machine.lock_run(step.run_id)
        if machine.begin(step, run, worker=worker, limited=False) is None:
            return "discarded"  # cancelled (or taken) meanwhile
        if isinstance(error, Refusal):
            refusal_record(error)
            outcome.error = error.message
        else:
            _failure(error, outcome, step)
        assert outcome.error is not None
        done = machine.failed(run, step, error=outcome.error, retryable=outcome.retryable)
        return "failed" if done else "discarded"


def _policy_verdict(step: RunStep, run: Run, tenant: Tenant) -> Verdict:
    """Whether the policy lets the step's action execute now (``step.execute``)."""
    return decide(policy_input(
        operation="step.execute", tenant=tenant.slug, subject=Subject.of(machine.ENGINE), now=clock.now(),
        **step_input_fields(run_id=run.id, pipeline=run.pipeline, executor=run.executor_id, step_id=step.step_id,
                            action=step.action, params=dict(step.params))))


def _denial(step: RunStep, verdict: Verdict) -> dict[str, Any]:
    """The denied audit row and ledger entry of a step the policy refused (naming the policy
    and its version)."""
    return {"tenant_id": step.tenant_id, "actor": machine.ENGINE, "action": Action.STEP_EXECUTE,
            "resource_type": Resource.STEP, "resource_id": f"{step.run_id}/{step.step_id}"[:200],
            "policy_id": verdict.policy_id, "details": _refused(step, verdict)}


def _refused(step: RunStep, verdict: Verdict) -> str:
    # Not retried: asking again gets the same answer. The dead step is replayable from the
    # dead-letter queue once the policy (or the engine) says otherwise.
    return f"{step.action}: {verdict.describe()}"


def _context(step: RunStep, deadline: float | None) -> StepContext:
    run: Run = step.run

    def outputs() -> dict[str, Any]:
        return dict(RunStep.objects.filter(run_id=run.id, step_id__in=step.depends_on)
                    .values_list("step_id", "output")) if step.depends_on else {}

    return StepContext(tenant=step.tenant, actor=machine.ENGINE, run_id=run.id, step_id=step.step_id,
                       params=dict(step.params), input=dict(run.input_params), attempt=step.attempts,
                       execution=step.executions, deadline=deadline, load_outputs=outputs)


def _call(action: Any, context: StepContext, outcome: _Outcome, step: RunStep) -> None:
    try:
        outcome.output = action(context)
    except Exception as exc:
        _failure(exc, outcome, step)


def _failure(exc: Exception, outcome: _Outcome, step: RunStep) -> None:
    if isinstance(exc, ActionFailed):
        outcome.error = str(exc) or type(exc).__name__
        return
    # an action's bug fails its step, never the worker
    log.warning("step action raised", exc_info=True, extra={"event": "engine.action_error", "action": step.action})
    outcome.error = f"{type(exc).__name__}: {exc}"


def _execute(step: RunStep) -> _Outcome:
    """Runs the step's action here, its lease kept by this process's heartbeat thread; a step
    with a ``timeout`` runs in a thread of its own, which is abandoned at the deadline."""
    outcome = _Outcome()
    action = REGISTRY.get(step.action)
    if action is None:
        outcome.error, outcome.retryable = f"unknown action {step.action}", False
        return outcome
    deadline = time.monotonic() + step.timeout if step.timeout else None
    context = _context(step, deadline)
    with _HEARTBEATS.keep(step):
        if deadline is None:
            _call(action, context, outcome, step)
            return outcome
        result = _Outcome()

        def work() -> None:
            try:
                _call(action, context, result, step)
            finally:
                connections.close_all()

        thread = threading.Thread(target=work, name=f"step-{step.pk}", daemon=True)
        thread.start()
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            outcome.error = f"timed out after {step.timeout:g}s"
            return outcome
        return result


class _Heartbeats:
    """One thread per process extends the leases of the steps this process is running, every
    third of the lease; a process that dies stops extending them and the reaper takes over."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, RunStep] = {}
        self._thread: threading.Thread | None = None

    @contextmanager
    def keep(self, step: RunStep) -> Iterator[None]:
        with self._lock:
            self._running[step.pk] = step
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="engine-heartbeat", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(step.pk, None)

    def _loop(self) -> None:
        while True:
            time.sleep(max(0.05, float(settings.MAESTRO_ENGINE_LEASE_SECONDS) / 3))
            with self._lock:
                steps = list(self._running.values())
            for step in steps:
                try:
                    machine.heartbeat(step)
                except Exception:  # the next beat tries again; the lease has two more in it
                    log.warning("heartbeat failed", exc_info=True, extra={"event": "engine.heartbeat_failed"})
                finally:
                    connections.close_all()


_HEARTBEATS = _Heartbeats()
