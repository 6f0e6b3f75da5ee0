from __future__ import annotations

from django.db.models import QuerySet

from maestro.core.compiled import CompiledRead
from maestro.core.exceptions import NotFound
from maestro.tenancy.models import Tenant
from orchestration.base.selectors import Lock, one
from orchestration.engine.models import DeadLetter, RunStep, StepTransition, WorkflowDefinition
from orchestration.runs.models import Run


def workflow_list(*, tenant: Tenant) -> QuerySet[WorkflowDefinition]:
    """Every version of every workflow, by name, newest version first."""
    return WorkflowDefinition.objects.filter(tenant=tenant).select_related("tenant").order_by("name", "-version")


def workflow_get(*, tenant: Tenant, name: str, version: int | None = None) -> WorkflowDefinition:
    """The latest version of ``name`` (or that ``version``); 404 ``WORKFLOW_NOT_FOUND``."""
    qs = WorkflowDefinition.objects.filter(tenant=tenant, name=name).select_related("tenant")
    if version is not None:
        qs = qs.filter(version=version)
    row = qs.order_by("-version").first()
    if row is None:
        raise NotFound("workflow", name)
    return row


def steps_of(*, run_id: str) -> QuerySet[RunStep]:
    return RunStep.objects.filter(run_id=run_id).order_by("position")


def _steps(run_id: str) -> QuerySet[RunStep]:
    return steps_of(run_id=run_id)


def _step(pk: int) -> QuerySet[RunStep]:
    return RunStep.objects.filter(pk=pk).select_related("tenant", "run")


def _run_locked(pk: str) -> QuerySet[Run]:
    # of=self: the joined tenant row must not be locked too (every step of the tenant would queue on it).
    return Run.objects.select_for_update(no_key=True, of=("self",)).select_related("tenant").filter(pk=pk)


# The reads every step execution makes, compiled once per process (maestro/core/compiled.py).
_STEPS: CompiledRead[RunStep] = CompiledRead(_steps, run_id="\x01run-marker")
_STEP: CompiledRead[RunStep] = CompiledRead(_step, pk=-7_919_000_001)
_RUN_LOCKED: CompiledRead[Run] = CompiledRead(_run_locked, pk="\x01run-marker")


def steps_list(*, run_id: str) -> list[RunStep]:
    """A run's steps in order (:func:`steps_of`, read as the engine reads it on every step)."""
    return _STEPS.rows(run_id=run_id)


def run_locked(*, run_id: str) -> Run | None:
    """The run with its tenant, its row locked ``FOR NO KEY UPDATE`` (inside a transaction)."""
    rows = _RUN_LOCKED.rows(pk=run_id)
    return rows[0] if rows else None


def step_get(*, step_pk: int, lock: Lock = None) -> RunStep | None:
    if not lock:
        rows = _STEP.rows(pk=step_pk)
        return rows[0] if rows else None
    qs = _step(step_pk).select_for_update(no_key=lock == "no_key", of=("self",))
    return qs.first()


def timeline_of(*, run_id: str) -> QuerySet[StepTransition]:
    return StepTransition.objects.filter(run_id=run_id).select_related("step").order_by("id")


def dead_letter_list(*, tenant: Tenant) -> QuerySet[DeadLetter]:
    return DeadLetter.objects.filter(tenant=tenant).order_by("-created_at", "-id")


def dead_letter_get(*, tenant: Tenant, dead_letter_id: str, lock: Lock = None) -> DeadLetter:
    return one(DeadLetter.objects.filter(tenant=tenant, id=dead_letter_id), "dead_letter", dead_letter_id, lock=lock)


def running_steps(*, tenant_id: int) -> int:
    return RunStep.objects.filter(tenant_id=tenant_id, status=RunStep.Status.RUNNING).count()
