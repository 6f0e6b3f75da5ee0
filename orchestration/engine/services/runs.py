"""Starting, cancelling and replaying runs (DESIGN §7.1). Starting creates the Run row and its
steps in one transaction and enqueues the first steps once it commits; a repeated idempotency
key returns the first run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maestro.core.actors import Actor
from maestro.core.exceptions import Conflict, NotFound, ValidationFailed
from maestro.policy.decisions import Subject, authorize
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Resource
from maestro.write_path.services import Change, service
from orchestration.control.models.playbooks import Playbook
from orchestration.control.selectors.agents import agent_get, agent_route
from orchestration.control.selectors.playbooks import playbook_get
from orchestration.engine import clock
from orchestration.engine.models import DeadLetter, RunStep
from orchestration.engine.selectors import dead_letter_get, steps_of, workflow_get
from orchestration.engine.services import steps as machine
from orchestration.engine.spec import StepSpec, validate
from orchestration.runs.models import Run
from orchestration.runs.selectors import run_get
from orchestration.runs.services import RUN, run_create, run_move

S = RunStep.Status
INPUT_MAX_KEYS = 1000


def _executor(tenant: Tenant, agent: str | None, rng: Callable[[], float] | None) -> str:
    """The agent a run executes on behalf of: the one named (unknown → 400), else a weighted
    choice among the healthy agents with weight > 0, else nobody ("")."""
    if agent is not None:
        if not isinstance(agent, str) or not agent:
            raise ValidationFailed("agent must be an agent id", details={"field": "agent"})
        try:
            return agent_get(tenant=tenant, agent_id=agent).slug
        except NotFound:
            raise ValidationFailed(f"Unknown agent {agent}", details={"field": "agent", "agent": agent}) from None
    chosen = agent_route(tenant=tenant, rng=rng or clock.random)
    return chosen.slug if chosen is not None else ""


def _check_input(input: Any) -> dict[str, Any]:
    if input is None:
        return {}
    if not isinstance(input, dict) or len(input) > INPUT_MAX_KEYS:
        raise ValidationFailed("input must be a JSON object", details={"field": "input"})
    return input


def _existing(tenant: Tenant, key: str | None) -> Run | None:
    if not key:
        return None
    return Run.objects.filter(tenant=tenant, idempotency_key=key).select_related("tenant").first()


def run_start(*, tenant: Tenant, actor: Actor, workflow: str, version: int | None = None,
              input: Any = None, idempotency_key: str | None = None, agent: str | None = None,
              rng: Callable[[], float] | None = None, role: str = "", via: str | None = None) -> tuple[Run, bool]:
    """Starts the latest (or that ``version`` of) workflow ``workflow``: ``(run, created)``.
    Unknown workflow 404; refused by the policy 403 and a disabled one 409 (both recorded as
    denied). ``role`` (the actor's in the tenant) and ``via`` (``api``, ``admin``; by default
    from the actor) are what the policy is told about the caller."""
    params = _check_input(input)
    definition = workflow_get(tenant=tenant, name=workflow, version=version)
    change = RUN.change(tenant=tenant, actor=actor, action=Action.RUN_CREATE, ident=definition.name)
    with service(change):  # asked first: a repeated key is answered only to whom the policy allows
        authorize(operation="run.start", tenant=tenant.slug, subject=Subject.of(actor, role=role, via=via),
                  now=clock.now(), workflow=definition.name)
    existing = _existing(tenant, idempotency_key)
    if existing is not None:
        return existing, False
    with service(change):
        if not definition.is_enabled:
            raise Conflict(f"Workflow {definition.name} version {definition.version} is disabled",
                           details={"policy": "workflow_disabled", "workflow": definition.name,
                                    "version": definition.version})
        steps = validate(definition.spec, check_actions=False)
        return _start(tenant=tenant, actor=actor, pipeline=definition.name, pipeline_id=definition.id, steps=steps,
                      input=params, idempotency_key=idempotency_key, executor=_executor(tenant, agent, rng))


def playbook_start(*, tenant: Tenant, actor: Actor, playbook: Playbook | str, input: Any = None,
                   idempotency_key: str | None = None, agent: str | None = None,
                   rng: Callable[[], float] | None = None, role: str = "", via: str | None = None
                   ) -> tuple[Run, bool]:
    """Runs a playbook's actions in order, one step each (``pipeline`` ``playbook:<id>``). An
    action the registry does not know (an old playbook's) fails its step, naming the action.
    Refused by the policy 403 (``role``, ``via``: as :func:`run_start`); a disabled playbook
    is 409; one without actions 400."""
    params = _check_input(input)
    if isinstance(playbook, str):
        playbook = playbook_get(tenant=tenant, playbook_id=playbook)
    change = RUN.change(tenant=tenant, actor=actor, action=Action.RUN_CREATE, ident=playbook.slug)
    with service(change):
        authorize(operation="playbook.run", tenant=tenant.slug, subject=Subject.of(actor, role=role, via=via),
                  now=clock.now(), playbook=playbook.slug)
    existing = _existing(tenant, idempotency_key)
    if existing is not None:
        return existing, False
    if not playbook.actions:
        raise ValidationFailed(f"Playbook {playbook.slug} has no actions", details={"field": "actions"})
    with service(change):
        if not playbook.is_enabled:
            raise Conflict(f"Playbook {playbook.slug} is disabled",
                           details={"policy": "playbook_disabled", "playbook": playbook.slug})
        steps = [StepSpec(id=f"{i + 1}", action=name, params={}, depends_on=[f"{i}"] if i else [], max_attempts=1,
                          initial_interval=1.0, backoff_coefficient=2.0, max_interval=None, timeout=None)
                 for i, name in enumerate(playbook.actions)]
        return _start(tenant=tenant, actor=actor, pipeline=f"playbook:{playbook.slug}", pipeline_id=playbook.slug,
                      steps=steps, input=params, idempotency_key=idempotency_key,
                      executor=_executor(tenant, agent, rng))


def _start(*, tenant: Tenant, actor: Actor, pipeline: str, pipeline_id: str, steps: list[StepSpec],
           input: dict[str, Any], idempotency_key: str | None, executor: str) -> tuple[Run, bool]:
    with service():
        run, created = run_create(tenant=tenant, actor=actor, pipeline=pipeline, pipeline_id=pipeline_id,
                                  input_params=input, executor_id=executor, idempotency_key=idempotency_key)
        if not created:
            return run, False
        rows = RunStep.objects.bulk_create([
            RunStep(tenant=tenant, run=run, step_id=s.id, position=i, action=s.action, params=s.params,
                    depends_on=s.depends_on, max_attempts=s.max_attempts, initial_interval=s.initial_interval,
                    backoff_coefficient=s.backoff_coefficient, max_interval=s.max_interval, timeout=s.timeout)
            for i, s in enumerate(steps)])
        for row in rows:
            if not row.depends_on:
                machine.queue(row)
    return run, True


def run_cancel(*, tenant: Tenant, actor: Actor, run_id: str) -> Run:
    """Cancels a queued or running run: its steps that have not finished end ``cancelled`` (a
    running step's late result is discarded by the compare-and-set). A finished run is 409."""
    change = RUN.change(tenant=tenant, actor=actor, action=Action.RUN_CANCEL, ident=run_id)
    with service(change):
        run_get(tenant=tenant, run_id=run_id)  # 404 first
        run = machine.lock_run(run_id)
        assert run is not None
        if run.status in Run.FINISHED:
            raise Conflict(f"Run {run_id} is already {run.status}",
                           details={"status": run.status, "policy": "run_state_machine"})
        now = clock.now()
        for step in steps_of(run_id=run_id):
            if step.status in machine.ACTIVE:
                machine.move(step, S.CANCELLED, sources=machine.ACTIVE, finished_at=now, lease_expires_at=None)
        cancelled = run_move(tenant=tenant, actor=actor, run_id=run_id, to=Run.Status.CANCELLED,
                             error_message="cancelled")
        assert cancelled is not None  # the run's row is locked: nothing moved it meanwhile
    return cancelled


def dead_letter_replay(*, tenant: Tenant, actor: Actor, dead_letter_id: str) -> DeadLetter:
    """Queues a dead step again with fresh attempts and takes its run back to ``running`` (the
    steps skipped because of it wait again). Already replayed, or a step no longer dead, 409."""
    change = Change(tenant_id=tenant.pk, actor=actor, action=Action.DEAD_LETTER_REPLAY,
                    resource_type=Resource.DEAD_LETTER, resource_id=dead_letter_id)
    with service(change):
        dead_letter_get(tenant=tenant, dead_letter_id=dead_letter_id)  # 404 first
        run = machine.lock_run(DeadLetter.objects.values_list("run_id", flat=True).get(pk=dead_letter_id))
        letter = dead_letter_get(tenant=tenant, dead_letter_id=dead_letter_id, lock="update")
        assert run is not None
        if letter.replayed_at is not None:
            raise Conflict(f"Dead letter {dead_letter_id} was already replayed",
                           details={"replayedAt": letter.replayed_at.isoformat(), "policy": "dead_letter_replayed"})
        step = RunStep.objects.select_related("tenant").get(pk=letter.run_step_id)
        if step.status != S.DEAD or run.status == Run.Status.CANCELLED:
            raise Conflict(f"Step {step.step_id} is {step.status}, run {run.id} {run.status}: nothing to replay",
                           details={"status": step.status, "runStatus": run.status, "policy": "dead_letter_replay"})
        letter.replayed_at = clock.now()
        letter.save(update_fields=["replayed_at"])
        if run.status == Run.Status.FAILED:
            run_move(tenant=tenant, actor=actor, run_id=run.id, to=Run.Status.RUNNING, sources=(Run.Status.FAILED,),
                     error_message="", failure_details=None)
        for other in steps_of(run_id=run.id):
            if other.status == S.SKIPPED:
                machine.move(other, S.PENDING, sources=(S.SKIPPED,), finished_at=None)
        machine.queue(step, sources=(S.DEAD,), error="", attempts=0, finished_at=None, available_at=None)
        run = machine.lock_run(run.id) or run
        machine.dispatch(run, list(steps_of(run_id=run.id)))
        change.record(details=f"Replayed step {step.step_id} of run {run.id}")
    return letter
