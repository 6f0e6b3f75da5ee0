"""A workflow spec, checked: the JSON Schema (``schemas/workflow_spec.json``, published at
``GET /api/maestro/workflows/schema``), then what a schema cannot say — step ids unique, every
``dependsOn`` names a step of the spec, no cycle, every action known to the registry. Each
problem is a 400 ``VALIDATION_ERROR`` whose ``details.step`` names the step."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from maestro.core.exceptions import ValidationFailed
from orchestration.base import actions

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "workflow_spec.json"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(document)
    return document


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


@dataclass(frozen=True)
class StepSpec:
    id: str
    action: str
    params: dict[str, Any]
    depends_on: list[str]
    max_attempts: int
    initial_interval: float
    backoff_coefficient: float
    max_interval: float | None
    timeout: float | None


def _invalid(message: str, step: str | None, **details: Any) -> ValidationFailed:
    return ValidationFailed(message, details={"step": step, **details})


def parse_yaml(text: str) -> Any:
    if not isinstance(text, str):
        raise ValidationFailed("specYaml must be a string", details={"field": "specYaml", "step": None})
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"specYaml is not valid YAML: {exc}".splitlines()[0],
                               details={"field": "specYaml", "step": None}) from None


def validate(spec: Any, *, check_actions: bool = True) -> list[StepSpec]:
    """The spec's steps in order, or the first problem as a 400 naming its step."""
    errors = sorted(_validator().iter_errors(spec), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        path = list(first.absolute_path)
        step = None
        if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
            raw = spec["steps"][path[1]]
            step = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else f"steps[{path[1]}]"
        raise _invalid(f"spec{first.json_path[1:]}: {first.message}", step, path=first.json_path)
    steps: list[StepSpec] = []
    seen: set[str] = set()
    for raw in spec["steps"]:
        sid = raw["id"]
        if sid in seen:
            raise _invalid(f"Duplicate step id {sid}", sid)
        seen.add(sid)
        if check_actions and not actions.known(raw["action"]):
            raise _invalid(f"Step {sid}: unknown action {raw['action']}", sid, action=raw["action"],
                           known=actions.names())
        retry = raw.get("retry", {})
        steps.append(StepSpec(
            id=sid, action=raw["action"], params=raw.get("params", {}), depends_on=list(raw.get("dependsOn", [])),
            max_attempts=retry.get("maxAttempts", 1), initial_interval=float(retry.get("initialInterval", 1.0)),
            backoff_coefficient=float(retry.get("backoffCoefficient", 2.0)),
            max_interval=float(retry["maxInterval"]) if "maxInterval" in retry else None,
            timeout=float(raw["timeout"]) if "timeout" in raw else None))
    for step in steps:
        for dep in step.depends_on:
            if dep == step.id:
                raise _invalid(f"Step {step.id} depends on itself", step.id)
            if dep not in seen:
                raise _invalid(f"Step {step.id} depends on unknown step {dep}", step.id, dependsOn=dep)
    cycle = _cycle(steps)
    if cycle:
        raise _invalid(f"Steps form a cycle: {' -> '.join(cycle)}", cycle[0], cycle=cycle)
    return steps


def _cycle(steps: list[StepSpec]) -> list[str]:
    """A cycle among the steps (as the ids along it, first repeated last), or []."""
    deps = {s.id: s.depends_on for s in steps}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    for root in deps:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            if i < len(deps[node]):
                stack.append((node, i + 1))
                nxt = deps[node][i]
                if state.get(nxt) == 1:
                    return [*path[path.index(nxt):], nxt]
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return []
