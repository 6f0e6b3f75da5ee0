"""Runs (the old ``runs`` rows). A run is created before anything executes it; its status
moves by compare-and-set so a duplicated message never moves a finished run again. The
orchestration engine builds steps and execution on these two functions."""

from __future__ import annotations

from typing import Any, cast

from django.db import IntegrityError, transaction
from django.db.models import Field
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import Conflict, ValidationFailed
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Event, Resource
from maestro.write_path.services import service
from orchestration.base import entities
from orchestration.runs.models import Run
from orchestration.runs.representations import run_repr
from orchestration.runs.selectors import run_get

# Which statuses each status may move to (DESIGN §7.1).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Run.Status.QUEUED: (Run.Status.RUNNING, Run.Status.CANCELLED, Run.Status.FAILED),
    Run.Status.RUNNING: (Run.Status.SUCCEEDED, Run.Status.FAILED, Run.Status.CANCELLED),
}
RESULT_FIELDS = ("cost", "output_data", "error_message", "failure_details", "executor_id")
RUN: entities.Kind[Run] = entities.Kind(
    model=Run, resource=Resource.RUN, label="Run", ident="id", versioned=False, present=run_repr,
    lookup=lambda tenant, ident, lock: run_get(tenant=tenant, run_id=ident, lock=lock),
    # Never deleted (the catalogue has no run.delete): runs are the history the health and SLO
    # figures are counted from.
)


def run_create(*, tenant: Tenant, actor: Actor, pipeline: str, pipeline_id: str = "",
               input_params: dict[str, Any] | None = None, executor_id: str = "",
               idempotency_key: str | None = None) -> tuple[Run, bool]:
    """Returns ``(run, created)``; a repeated ``idempotency_key`` returns the first run (an
    idempotent answer, not a refusal: nothing is recorded for it)."""
    if idempotency_key:
        existing = _by_key(tenant, idempotency_key)
        if existing is not None:
            return existing, False
    now = timezone.now()
    run = Run(tenant=tenant, pipeline=pipeline, pipeline_id=pipeline_id, input_params=input_params or {},
              executor_id=executor_id, idempotency_key=idempotency_key or None, created_at=now, updated_at=now)
    change = RUN.change(tenant=tenant, actor=actor, action=Action.RUN_CREATE, ident=run.id)
    with service(change):
        entities.clean_or_400(run, exclude=["tenant", "idempotency_key"], validate_unique=False)
        try:
            with transaction.atomic():
                run.save(force_insert=True)
        except IntegrityError:
            # Two requests with one idempotency key raced; the other one's run is the answer.
            existing = _by_key(tenant, idempotency_key) if idempotency_key else None
            if existing is None:
                raise
            return existing, False
        change.record(details=f"Queued run of {pipeline}", event=(Event.RUN_CREATED, run_repr(run)))
    return run, True


def _by_key(tenant: Tenant, key: str) -> Run | None:
    return Run.objects.filter(tenant=tenant, idempotency_key=key).select_related("tenant").first()


def run_transition(*, tenant: Tenant, actor: Actor, run_id: str, to: str, **result: Any) -> Run:
    """Moves a run to ``to`` if its current status allows it (compare-and-set in the UPDATE);
    entering ``running`` stamps ``started_at``; finishing stamps ``completed_at`` and
    ``duration_ms``. A refused transition is a 409 and changes nothing."""
    change = RUN.change(tenant=tenant, actor=actor, action=Action.RUN_UPDATE, ident=run_id)
    with service(change):
        run = run_move(tenant=tenant, actor=actor, run_id=run_id, to=to, **result)
        if run is None:
            current = run_get(tenant=tenant, run_id=run_id)
            raise Conflict(f"Run {run_id} cannot move from {current.status} to {to}",
                           details={"status": current.status, "to": to, "policy": "run_state_machine"})
    return run


def run_move(*, tenant: Tenant, actor: Actor, run_id: str, to: str, sources: tuple[str, ...] | None = None,
             locked: Run | None = None, **result: Any) -> Run | None:
    """:func:`run_transition` for the engine: ``None`` (nothing written) when the run is not in
    a status that may move to ``to`` — a duplicate message, a run cancelled meanwhile. ``sources``
    names the statuses it may leave instead of the state machine's (a replay takes a failed run
    back to ``running``); a run that runs again keeps its first ``started_at``. ``locked``: the
    run as the caller read it in this unit with its row locked (the engine does, for every step),
    which then is not read again and is returned with the new values."""
    entities.require_choice(to, Run.Status.values, "status")
    unknown = set(result) - set(RESULT_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown run field(s): {', '.join(sorted(unknown))}")
    cost = result.get("cost", 0)
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or cost < 0:
        raise ValidationFailed("cost must be a number >= 0", details={"cost": cost})
    change = RUN.change(tenant=tenant, actor=actor, action=Action.RUN_UPDATE, ident=run_id)
    with service(change):
        run = locked if locked is not None else run_get(tenant=tenant, run_id=run_id)
        if sources is None:
            sources = tuple(s for s, targets in TRANSITIONS.items() if to in targets)
        if run.status not in sources:
            return None
        now = timezone.now()
        fields: dict[str, Any] = {"status": to, "updated_at": now, **result}
        if to == Run.Status.RUNNING:
            fields["started_at"] = run.started_at or now
            fields.update(completed_at=None, duration_ms=None)
        if to in Run.FINISHED:
            fields["completed_at"] = now
            start = run.started_at or run.created_at
            fields["duration_ms"] = max(0, int((now - start).total_seconds() * 1000))
        moved = Run.objects.filter(pk=run.pk, status=run.status).update(**fields)
        if not moved:
            return None
        if locked is None:
            run = run_get(tenant=tenant, run_id=run_id)
        else:  # the row is as written: the values, as a read would give them back
            for name, value in fields.items():
                setattr(run, name, cast("Field[Any, Any]", Run._meta.get_field(name)).to_python(value))
        change.record(details=f"Run {run.id} {to}", event=(Event.RUN_UPDATED, run_repr(run)))
    return run
