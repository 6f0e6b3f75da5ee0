"""The step state machine (DESIGN §7.1). Every transition is a compare-and-set ``UPDATE … WHERE
status IN (…) AND attempts = …``, so a redelivered or duplicated message, a result that arrives
after a cancel, or a worker that comes back after the reaper requeued its step, moves nothing.

Lock order, everywhere: the run's row first (``FOR NO KEY UPDATE``), then its steps. Holding
the run's row while a step finishes is what lets two parallel steps that finish at once agree on
who dispatches the step that waits for both.

Step transitions are recorded as the run's timeline (StepTransition rows) and ``step:updated``
events; the run's own transitions and every dead letter go through the audited write path."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field, Q

from maestro.core.actors import Actor
from maestro.queue import Queue, enqueue_later_on_commit, waiting
from maestro.write_path.catalogue import Action, Event, Resource
from maestro.write_path.services import Change, emit, service
from orchestration.base.actions import REGISTRY
from orchestration.engine import clock, metrics
from orchestration.engine.models import DeadLetter, RunStep, StepTransition
from orchestration.engine.representations import step_repr
from orchestration.engine.selectors import run_locked, step_get, steps_list
from orchestration.runs.models import Run
from orchestration.runs.services import run_move

log = logging.getLogger(__name__)

STEP_JOB = "engine.step"
ENGINE = Actor.job("engine")
S = RunStep.Status
ACTIVE = (S.PENDING, S.QUEUED, S.RETRYING, S.RUNNING)


# Inside a transition(): whether its transaction still has to be told not to wait for the WAL
# flush (the first compare-and-set that moves a step does it, in the same statement).
_unrelaxed: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar("engine_unrelaxed", default=None)


@contextmanager
def transition() -> Iterator[None]:
    """A unit of the write path for a step's transition, committed without waiting for its WAL
    flush unless ``MAESTRO_ENGINE_SYNCHRONOUS_COMMIT`` is on (see the setting): the first step
    it moves sets ``synchronous_commit`` off for the transaction in the same statement (a unit
    that moves no step writes next to nothing, and waits)."""
    relax = settings.MAESTRO_ENGINE_SYNCHRONOUS_COMMIT == "off" and connection.vendor == "postgresql"
    token = _unrelaxed.set([True] if relax else None)
    try:
        with service():
            yield
    finally:
        _unrelaxed.reset(token)


def lock_run(run_id: str) -> Run | None:
    return run_locked(run_id=run_id)


def move(step: RunStep, to: str, *, sources: Iterable[str], at_attempt: int | None = None,
         error: str | None = None, through: tuple[str, datetime] | None = None, **fields: Any) -> bool:
    """Compare-and-set ``step`` to ``to`` from one of ``sources`` (and, when given, only while it
    is still at ``at_attempt``, its attempt number as the caller read it). On success the step
    object carries the new values and the transition is on the timeline and broadcast.
    ``through``: a status the step went through in memory on the way (and when), recorded on the
    timeline ahead of this one (:func:`begin_in_unit`)."""
    values = {"status": to, **fields}
    if error is not None:
        values["error"] = error
    now = clock.now()
    timeline = [*([(through[0], through[1], "")] if through else []), (to, now, error or "")]
    if connection.vendor == "postgresql":
        if not _move_and_record(step.pk, list(sources), at_attempt, values, timeline):
            return False
    else:
        qs = RunStep.objects.filter(pk=step.pk, status__in=list(sources))
        if at_attempt is not None:
            qs = qs.filter(attempts=at_attempt)
        if not qs.update(**values):
            return False
    before = step.status
    for key, value in values.items():
        setattr(step, key, value)
    if connection.vendor != "postgresql":
        StepTransition.objects.bulk_create([
            StepTransition(run_id=step.run_id, step=step, status=status, attempt=step.attempts, timestamp=at,
                           error=text) for status, at, text in timeline])
    emit(tenant_id=step.tenant_id, type=Event.STEP_UPDATED, data=step_repr(step))
    # Counted once committed: a unit that rolls back (a transactional action that raised) moved nothing.
    transaction.on_commit(partial(metrics.step_moved, before, to))
    return True


def _move_and_record(pk: int, sources: list[str], at_attempt: int | None, values: dict[str, Any],
                     timeline_rows: list[tuple[str, datetime, str]]) -> bool:
    """PostgreSQL: the compare-and-set and its timeline rows (status, time, error; in order) in
    one statement (a transition is three statements per step less on the hot path)."""
    opts, timeline = RunStep._meta, StepTransition._meta
    columns, params = [], []
    for name, value in values.items():
        field = cast("Field[Any, Any]", opts.get_field(name))
        columns.append(f'"{field.column}" = %s')
        params.append(field.get_db_prep_save(value, connection))
    where = ['"id" = %s', '"status" = ANY(%s)']
    params += [pk, sources]
    if at_attempt is not None:
        where.append('"attempts" = %s')
        params.append(at_attempt)
    stamp = cast("Field[Any, Any]", timeline.get_field("timestamp"))
    rows = ", ".join(["(%s::varchar, %s::timestamptz, %s::text, %s::int)"] * len(timeline_rows))
    for n, (status, at, error) in enumerate(timeline_rows):
        params += [status, stamp.get_db_prep_save(at, connection), error, n]
    unrelaxed = _unrelaxed.get()
    relax = unrelaxed is not None and unrelaxed[0]
    sql = (("WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)), " if relax else "WITH ") +
           f'moved AS (UPDATE "{opts.db_table}" SET {", ".join(columns)} WHERE {" AND ".join(where)} '
           f'RETURNING "id", "run_id", "attempts") '
           f'INSERT INTO "{timeline.db_table}" ("run_id", "step_id", "status", "attempt", "timestamp", "error") '
           f'SELECT moved."run_id", moved."id", t.status, moved."attempts", t.at, t.error '
           f'FROM moved{", relaxed" if relax else ""}, (VALUES {rows}) AS t(status, at, error, n) ORDER BY t.n '
           f'RETURNING "id"')
    with connection.cursor() as cur:
        cur.execute(sql, params)
        moved = cur.fetchone() is not None
    if moved and unrelaxed is not None:
        unrelaxed[0] = False  # a row came out of the join, so set_config ran
    return moved


def queue(step: RunStep, *, sources: Iterable[str] = (S.PENDING,), countdown: float = 0.0, message: bool = True,
          **fields: Any) -> bool:
    """``step`` → queued, and its job enqueued once this transaction commits (unless ``message``
    is false: the caller runs it next itself — see :func:`dispatch`)."""
    fields.setdefault("queued_at", clock.now())
    if not move(step, S.QUEUED, sources=sources, **fields):
        return False
    if message:
        enqueue_later_on_commit(STEP_JOB, step.pk, countdown=countdown)
    return True


def carriable(step: RunStep) -> bool:
    """Whether a worker may run ``step`` right after the step that released it, without a message:
    a transactional action with no timeout (a short transaction of its own)."""
    return step.timeout is None and REGISTRY.transactional(step.action)


class Carry(list[RunStep]):
    """The short steps a worker runs next itself, released by those it ran (see :func:`dispatch`):
    at most ``room`` of them, counting those already in the list; running one takes its room."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def take(self) -> RunStep:
        self.room -= 1
        return self.pop()


def dispatch(run: Run, steps: list[RunStep], *, carry: Carry | None = None) -> None:
    """Queues every pending step whose ``dependsOn`` all succeeded; a run with nothing left to do
    finishes (succeeded when every step did, else failed). ``run``: locked in the caller's unit.
    With ``carry``, those of them that are :func:`carriable`, as many as it has room for, are
    queued without a message and added to it, for this worker to run once this unit commits: a
    DAG of short steps goes on in one job instead of a broker round trip per step. Should the
    worker die before it runs them, the reaper sends their messages (steps that waited
    ``MAESTRO_ENGINE_RESEND_AFTER_SECONDS``)."""
    done = {s.step_id for s in steps if s.status == S.SUCCEEDED}
    for step in steps:
        if step.status == S.PENDING and all(d in done for d in step.depends_on):
            keep = carry is not None and len(carry) < carry.room and carriable(step)
            if queue(step, message=not keep) and carry is not None and keep:
                step.run, step.tenant = run, run.tenant
                carry.append(step)
    if any(s.status in ACTIVE for s in steps):
        return
    if all(s.status == S.SUCCEEDED for s in steps):
        finished = run_move(tenant=run.tenant, actor=ENGINE, run_id=run.id, to=Run.Status.SUCCEEDED,
                            output_data={s.step_id: s.output for s in steps}, locked=run)
        if finished is not None:
            metrics.run_finished(finished.status)
        return
    bad = next((s for s in steps if s.status in (S.DEAD, S.CANCELLED)), None)
    fail_run(run, steps, reason=f"step {bad.step_id} {bad.status}" if bad else "steps did not succeed",
             step=bad)


def fail_run(run: Run, steps: list[RunStep], *, reason: str, step: RunStep | None) -> None:
    """The run fails; the steps that have not started are skipped (those running finish)."""
    now = clock.now()
    for other in steps:
        if other.status in (S.PENDING, S.QUEUED, S.RETRYING):
            move(other, S.SKIPPED, sources=(S.PENDING, S.QUEUED, S.RETRYING), finished_at=now)
    details = None if step is None else {"step": step.step_id, "action": step.action, "error": step.error}
    failed = run_move(tenant=run.tenant, actor=ENGINE, run_id=run.id, to=Run.Status.FAILED,
                      error_message=reason, failure_details=details, locked=run)
    if failed is not None:
        metrics.run_finished(failed.status)


def backoff(step: RunStep, attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1 = the first retry): ``initialInterval ×
    backoffCoefficient^(attempt-1)``, capped at ``maxInterval``, with "equal jitter" (half of it
    fixed, half random) so a burst of failures does not retry in lockstep."""
    base = step.initial_interval * step.backoff_coefficient ** (attempt - 1)
    if step.max_interval is not None:
        base = min(base, step.max_interval)
    return base / 2 + base / 2 * clock.random()


def _tenant_busy(tenant_id: int) -> bool:
    limit: int = settings.MAESTRO_ENGINE_TENANT_CONCURRENCY
    if limit <= 0:
        return False
    if connection.vendor == "postgresql":
        # One starter at a time per tenant decides against the count (until its commit).
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x4D53, tenant_id])
    return RunStep.objects.filter(tenant_id=tenant_id, status=S.RUNNING).count() >= limit


def step_begin(*, step_pk: int, worker: str = "") -> RunStep | None:
    """Takes a queued (or due retrying) step to ``running`` with a lease; ``None`` when there is
    nothing to run (gone, finished, cancelled, taken by another delivery of the same message, not
    due yet, or the tenant at its concurrency limit — then it is enqueued again for later)."""
    with transition():
        step = step_get(step_pk=step_pk)
        if step is None or step.status not in (S.QUEUED, S.RETRYING):
            return None  # a duplicate delivery, a cancelled run: the common case costs one query
        # The run's row is locked only to take a queued run to running (the lock order of
        # module docstring); otherwise the step's compare-and-set alone decides, and a cancel that
        # commits first leaves it nothing to move.
        run = lock_run(step.run_id) if step.run.status == Run.Status.QUEUED else step.run
        return begin(step, run, worker=worker, limited=True)


def begin(step: RunStep, run: Run | None, *, worker: str, limited: bool) -> RunStep | None:
    """:func:`step_begin` inside the caller's unit, the step and its run already read (the run
    locked when it is queued). ``limited``: the tenant's concurrency limit applies (a step
    run whole in one transaction never shows as running to anyone, so it takes no place)."""
    now = clock.now()
    if not _due(step, run, now):
        return None
    if limited and _tenant_busy(step.tenant_id):
        enqueue_later_on_commit(STEP_JOB, step.pk, countdown=settings.MAESTRO_ENGINE_BUSY_RETRY_SECONDS)
        return None
    fields = {**_started(step, worker, now), "lease_expires_at": now + timedelta(seconds=lease_seconds(step))}
    if not move(step, S.RUNNING, sources=(S.QUEUED, S.RETRYING), at_attempt=step.attempts, **fields):
        return None
    assert run is not None  # _due
    if run.status == Run.Status.QUEUED:
        run_move(tenant=run.tenant, actor=ENGINE, run_id=run.id, to=Run.Status.RUNNING, locked=run)
    return step


def _due(step: RunStep, run: Run | None, now: datetime) -> bool:
    """Whether ``step`` may begin now: its run still live, and (a retry) its time come; a step
    not due yet is enqueued again for then."""
    if run is None or run.status not in (Run.Status.QUEUED, Run.Status.RUNNING):
        return False
    if step.available_at is not None and step.available_at > now:
        enqueue_later_on_commit(STEP_JOB, step.pk, countdown=(step.available_at - now).total_seconds())
        return False
    return True


def _started(step: RunStep, worker: str, now: datetime) -> dict[str, Any]:
    """The fields of a step that begins an execution now, in ``worker``."""
    return {"attempts": step.attempts + 1, "executions": step.executions + 1, "started_at": now, "finished_at": None,
            "heartbeat_at": now, "worker": worker[:200], "available_at": None}


class StepTaken(Exception):
    """The step a unit ran whole was taken meanwhile (its compare-and-set moved nothing): the
    unit must roll back, the action's writes with it."""


def begin_in_unit(step: RunStep, run: Run | None, *, worker: str) -> tuple[str, int, datetime] | None:
    """:func:`begin` for a step run whole in the caller's unit (the run locked): the same checks,
    the step taken to ``running`` in memory and broadcast, the compare-and-set left to
    :func:`succeeded_in_unit`, which records both transitions in one statement. Returns the
    status and attempt it was read at and when it started; ``None`` when there is nothing to
    run. (A unit whose action raises rolls back and records the failure through :func:`begin`.)"""
    now = clock.now()
    if not _due(step, run, now):
        return None
    assert run is not None  # _due
    read_at = (step.status, step.attempts, now)
    for key, value in {"status": S.RUNNING, **_started(step, worker, now)}.items():
        setattr(step, key, value)
    emit(tenant_id=step.tenant_id, type=Event.STEP_UPDATED, data=step_repr(step))
    transaction.on_commit(partial(metrics.step_moved, read_at[0], S.RUNNING))
    if run.status == Run.Status.QUEUED:
        run_move(tenant=run.tenant, actor=ENGINE, run_id=run.id, to=Run.Status.RUNNING, locked=run)
    return read_at


def succeeded_in_unit(run: Run, step: RunStep, read_at: tuple[str, int, datetime], *, output: Any,
                      carry: Carry | None = None) -> None:
    """:func:`succeeded` for a step :func:`begin_in_unit` began: from the status and attempt it
    was read at straight to ``succeeded``, running and succeeded both on the timeline. Raises
    :class:`StepTaken` when the step was taken meanwhile."""
    status, attempt, started = read_at
    now = clock.now()
    if not move(step, S.SUCCEEDED, sources=(status,), at_attempt=attempt, error="", output=output,
                finished_at=now, lease_expires_at=None, through=(S.RUNNING, started), attempts=step.attempts,
                executions=step.executions, started_at=started, heartbeat_at=started, worker=step.worker,
                available_at=None):
        raise StepTaken(step.pk)
    _done(run, step, now, carry)


def lease_seconds(step: RunStep) -> float:
    return float(settings.MAESTRO_ENGINE_LEASE_SECONDS)


def heartbeat(step: RunStep) -> bool:
    """Extends a running step's lease; ``False`` when the step is no longer this execution's
    (cancelled, or requeued by the reaper): its result will be discarded."""
    now = clock.now()
    return bool(RunStep.objects.filter(pk=step.pk, status=S.RUNNING, attempts=step.attempts).update(
        heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds(step))))


def step_succeed(step: RunStep, *, output: Any) -> bool:
    """The execution that began as ``step`` succeeded; ``False`` when its result is discarded."""
    with transition():
        return succeeded(lock_run(step.run_id), step, output=output)


def succeeded(run: Run | None, step: RunStep, *, output: Any) -> bool:
    """:func:`step_succeed` inside the caller's unit, which holds ``run`` locked."""
    now = clock.now()
    if run is None or not move(step, S.SUCCEEDED, sources=(S.RUNNING,), at_attempt=step.attempts, error="",
                               output=output, finished_at=now, lease_expires_at=None):
        return False
    _done(run, step, now, None)
    return True


def _done(run: Run, step: RunStep, now: datetime, carry: Carry | None) -> None:
    """After ``step`` succeeded: its duration counted, and what it released dispatched."""
    metrics.step_duration(step, now)
    if run.status in (Run.Status.QUEUED, Run.Status.RUNNING):
        dispatch(run, steps_list(run_id=run.id), carry=carry)


def step_fail(step: RunStep, *, error: str, retryable: bool = True) -> bool:
    """The execution that began as ``step`` failed with ``error``: retried after its backoff while
    attempts remain, else dead (a DeadLetter row), which fails the run. ``False``: discarded."""
    with transition():
        return failed(lock_run(step.run_id), step, error=error, retryable=retryable)


def failed(run: Run | None, step: RunStep, *, error: str, retryable: bool) -> bool:
    """:func:`step_fail` inside the caller's unit, which holds ``run`` locked."""
    now = clock.now()
    if run is None:
        return False
    error = error[:10_000]
    live = run.status in (Run.Status.QUEUED, Run.Status.RUNNING)
    if retryable and live and step.attempts < step.max_attempts:
        delay = backoff(step, step.attempts)
        if not move(step, S.RETRYING, sources=(S.RUNNING,), at_attempt=step.attempts, error=error,
                    available_at=now + timedelta(seconds=delay), lease_expires_at=None, finished_at=now,
                    queued_at=now):
            return False
        metrics.step_retried(step)
        enqueue_later_on_commit(STEP_JOB, step.pk, countdown=delay)
        return True
    if not move(step, S.DEAD, sources=(S.RUNNING,), at_attempt=step.attempts, error=error, finished_at=now,
                lease_expires_at=None):
        return False
    metrics.step_duration(step, now)
    dead_letter_add(run, step, now)
    if live:
        fail_run(run, steps_list(run_id=run.id), reason=f"step {step.step_id} failed: {error}", step=step)
    return True


def _resend(now: datetime, limit: int) -> None:
    stale = now - timedelta(seconds=settings.MAESTRO_ENGINE_RESEND_AFTER_SECONDS)
    pks = list(RunStep.objects.filter(status__in=(S.QUEUED, S.RETRYING), queued_at__lt=stale)
               .filter(Q(available_at__isnull=True) | Q(available_at__lt=stale))
               .order_by("queued_at").values_list("pk", flat=True)[:limit])
    for pk in pks:
        with service():
            if RunStep.objects.filter(pk=pk, status__in=(S.QUEUED, S.RETRYING), queued_at__lt=stale).update(
                    queued_at=now):
                enqueue_later_on_commit(STEP_JOB, pk)


def dead_letter_add(run: Run, step: RunStep, now: datetime) -> DeadLetter:
    letter = DeadLetter.objects.create(
        tenant_id=step.tenant_id, run=run, run_step=step, step_id=step.step_id, action=step.action, error=step.error,
        attempts=step.attempts, created_at=now,
        payload={"params": step.params, "input": run.input_params, "dependsOn": step.depends_on})
    change = Change(tenant_id=step.tenant_id, actor=ENGINE, action=Action.STEP_DEAD,
                    resource_type=Resource.DEAD_LETTER, resource_id=letter.id)
    change.record(details=f"Step {step.step_id} of run {run.id} is dead after {step.attempts} attempt(s): "
                          f"{step.error[:500]}")
    metrics.dead_letter()
    return letter


def steps_reap(*, limit: int = 500) -> int:
    """Requeues running steps whose lease expired (their worker vanished without a word); the
    lost execution does not count as an attempt. Returns how many were requeued.

    Also sends again the message of a step that has waited (queued, or retrying and due) for
    ``MAESTRO_ENGINE_RESEND_AFTER_SECONDS`` while the steps queue is empty: its message was
    lost (a broker outage at the commit) or is held unacknowledged by a worker that died (Redis
    gives those back only after Celery's visibility timeout). With messages waiting, a step
    that waits is most likely behind them, and a resend would only pile duplicates on a
    backlog (each is harmless: it finds its step taken and does nothing)."""
    now = clock.now()
    if not waiting(Queue.STEPS):  # empty, or nothing to ask (the embedded default dedups a resend)
        _resend(now, limit)
    expired = list(RunStep.objects.filter(status=S.RUNNING, lease_expires_at__lt=now)
                   .order_by("lease_expires_at").values_list("pk", flat=True)[:limit])
    requeued = 0
    for pk in expired:
        with service():
            peek = RunStep.objects.filter(pk=pk).values_list("run_id", flat=True).first()
            run = lock_run(peek) if peek else None
            step = step_get(step_pk=pk)
            if run is None or step is None or step.status != S.RUNNING or not step.lease_expires_at \
                    or step.lease_expires_at >= now:
                continue
            given_back: dict[str, Any] = {"attempts": max(0, step.attempts - 1), "lease_expires_at": None}
            if queue(step, sources=(S.RUNNING,), at_attempt=step.attempts, error="lease expired: worker vanished",
                     **given_back):
                requeued += 1
                log.warning("requeued step whose lease expired", extra={
                    "event": "engine.step_reaped", "run": step.run_id, "step": step.step_id, "worker": step.worker})
    return requeued
