"""The API shapes of the engine (DESIGN §7.1): workflow definitions in camelCase like the rest
of ``/api/maestro/``, steps, timeline and dead letters in the runs' snake_case row shape."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from maestro.core.wire import IsoTime, to_iso
from orchestration.engine.models import DeadLetter, RunStep, StepTransition, WorkflowDefinition
from orchestration.runs.models import Run
from orchestration.runs.representations import RunOut, run_repr


class WorkflowOut(TypedDict):
    id: str
    name: str
    version: int
    spec: dict[str, Any]
    specYaml: str
    isEnabled: bool
    createdAt: IsoTime


def workflow_repr(wf: WorkflowDefinition) -> WorkflowOut:
    return {"id": wf.id, "name": wf.name, "version": wf.version, "spec": wf.spec, "specYaml": wf.spec_yaml,
            "isEnabled": wf.is_enabled, "createdAt": to_iso(wf.created_at)}


class StepOut(TypedDict):
    id: str
    run_id: str
    action: Annotated[str, "action"]
    status: Annotated[str, RunStep.Status]
    attempts: int
    depends_on: list[str]
    started_at: IsoTime | None
    finished_at: IsoTime | None
    error: str | None
    output: Any


def step_repr(step: RunStep) -> StepOut:
    return {"id": step.step_id, "run_id": step.run_id, "action": step.action, "status": step.status,
            "attempts": step.attempts, "depends_on": list(step.depends_on), "started_at": to_iso(step.started_at),
            "finished_at": to_iso(step.finished_at), "error": step.error or None, "output": step.output}


class RunWithStepsOut(RunOut):
    steps: list[StepOut]


def run_with_steps_repr(run: Run, steps: list[RunStep]) -> RunWithStepsOut:
    out: dict[str, Any] = {**run_repr(run), "steps": [step_repr(s) for s in steps]}
    return out  # type: ignore[return-value]


class NodeOut(TypedDict):
    id: str
    action: str
    status: Annotated[str, RunStep.Status]
    attempts: int


EdgeOut = TypedDict("EdgeOut", {"from": str, "to": str})


class GraphOut(TypedDict):
    nodes: list[NodeOut]
    edges: list[EdgeOut]


def graph_repr(steps: list[RunStep]) -> GraphOut:
    return {"nodes": [{"id": s.step_id, "action": s.action, "status": s.status, "attempts": s.attempts}
                      for s in steps],
            "edges": [{"from": dep, "to": s.step_id} for s in steps for dep in s.depends_on]}


class TransitionOut(TypedDict):
    step_id: str
    status: Annotated[str, RunStep.Status]
    attempt: int
    timestamp: IsoTime
    error: str | None


def transition_repr(t: StepTransition) -> TransitionOut:
    return {"step_id": t.step.step_id, "status": t.status, "attempt": t.attempt, "timestamp": to_iso(t.timestamp),
            "error": t.error or None}


class DeadLetterOut(TypedDict):
    id: str
    run_id: str
    step_id: str
    action: str
    error: str
    attempts: int
    payload: dict[str, Any]
    created_at: IsoTime
    replayed_at: IsoTime | None


def dead_letter_repr(d: DeadLetter) -> DeadLetterOut:
    return {"id": d.id, "run_id": d.run_id, "step_id": d.step_id, "action": d.action, "error": d.error,
            "attempts": d.attempts, "payload": d.payload, "created_at": to_iso(d.created_at),
            "replayed_at": to_iso(d.replayed_at)}
