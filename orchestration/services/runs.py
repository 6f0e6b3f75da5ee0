"""Runs (the old ``runs`` rows). A run is created before anything executes it; its status
moves by compare-and-set so a duplicated message never moves a finished run again. The
orchestration engine builds steps and execution on these two functions."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import Conflict, ValidationFailed
from maestro.write_path import record, service
from orchestration.models import Run
from orchestration.representations_control import run_repr
from orchestration.selectors.runs import run_get
from orchestration.services.control_common import clean_or_400, require_choice

# Which statuses each status may move to (DESIGN §7.1).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Run.Status.QUEUED: (Run.Status.RUNNING, Run.Status.CANCELLED, Run.Status.FAILED),
    Run.Status.RUNNING: (Run.Status.SUCCEEDED, Run.Status.FAILED, Run.Status.CANCELLED),
}
RESULT_FIELDS = ("cost", "output_data", "error_message", "failure_details", "executor_id")


def run_create(*, tenant: Any, actor: Actor, pipeline: str, pipeline_id: str = "",
               input_params: dict[str, Any] | None = None, executor_id: str = "",
               idempotency_key: str | None = None) -> tuple[Run, bool]:
    """Returns ``(run, created)``; a repeated ``idempotency_key`` returns the first run."""
    if idempotency_key:
        existing = Run.objects.filter(tenant=tenant, idempotency_key=idempotency_key).select_related("tenant").first()
        if existing is not None:
            return existing, False
    try:
        with service():
            now = timezone.now()
            run = Run(tenant=tenant, pipeline=pipeline, pipeline_id=pipeline_id, input_params=input_params or {},
                      executor_id=executor_id, idempotency_key=idempotency_key or None, created_at=now, updated_at=now)
            clean_or_400(run, exclude=["tenant", "idempotency_key"])
            run.save(force_insert=True)
            record(tenant=tenant, actor=actor, action="run.create", resource_type="run", resource_id=run.id,
                   details=f"Queued run of {pipeline}", event=("run:created", run_repr(run)))
    except IntegrityError:
        # Two requests with one idempotency key raced; the other one's run is the answer.
        existing = Run.objects.filter(tenant=tenant, idempotency_key=idempotency_key).select_related("tenant").first()
        if existing is None:
            raise
        return existing, False
    return run, True


def run_transition(*, tenant: Any, actor: Actor, run_id: str, to: str, **result: Any) -> Run:
    """Moves a run to ``to`` if its current status allows it (compare-and-set in the UPDATE);
    entering ``running`` stamps ``started_at``; finishing stamps ``completed_at`` and
    ``duration_ms``. A refused transition is a 409 and changes nothing."""
    require_choice(to, Run.Status.values, "status")
    unknown = set(result) - set(RESULT_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown run field(s): {', '.join(sorted(unknown))}")
    cost = result.get("cost", 0)
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or cost < 0:
        raise ValidationFailed("cost must be a number >= 0", details={"cost": cost})
    with service():
        run = run_get(tenant=tenant, run_id=run_id)
        sources = [s for s, targets in TRANSITIONS.items() if to in targets]
        now = timezone.now()
        fields: dict[str, Any] = {"status": to, "updated_at": now, **result}
        if to == Run.Status.RUNNING:
            fields["started_at"] = now
        if to in Run.FINISHED:
            fields["completed_at"] = now
            start = run.started_at or run.created_at
            fields["duration_ms"] = max(0, int((now - start).total_seconds() * 1000))
        moved = Run.objects.filter(pk=run.pk, status__in=sources, status=run.status).update(**fields)
        if not moved:
            raise Conflict(f"Run {run_id} cannot move from {run.status} to {to}",
                           details={"status": run.status, "to": to, "policy": "run_state_machine"})
        run = run_get(tenant=tenant, run_id=run_id)
        record(tenant=tenant, actor=actor, action="run.update", resource_type="run", resource_id=run.id,
               details=f"Run {run.id} {to}", event=("run:updated", run_repr(run)))
    return run
