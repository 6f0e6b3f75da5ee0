from __future__ import annotations

import pytest

from orchestration.engine.models import RunStep, WorkflowDefinition
from orchestration.runs.models import Run
from tests.factories import SYSTEM

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sample_workflow_is_seeded_once_and_runs_to_success(tenant, engine):
    from orchestration.engine.services import run_start, workflow_set_enabled
    from orchestration.engine.services.seed import workflow_seed_defaults

    # given: seeded, then disabled by an operator, then seeding again
    first = workflow_seed_defaults(tenant=tenant, actor=SYSTEM)
    workflow_set_enabled(tenant=tenant, actor=SYSTEM, name="sample-pipeline", version=1, enabled=False)
    again = workflow_seed_defaults(tenant=tenant, actor=SYSTEM)
    workflow_set_enabled(tenant=tenant, actor=SYSTEM, name="sample-pipeline", version=1, enabled=True)

    # when
    run, _ = run_start(tenant=tenant, actor=SYSTEM, workflow="sample-pipeline")
    engine.drain()
    engine.clock.advance(1)
    engine.drain()

    # then
    assert (first["created"], again["created"]) == (["workflow:sample-pipeline"], [])
    assert WorkflowDefinition.objects.get().is_enabled is True
    assert Run.objects.get(pk=run.id).status == "succeeded"
    assert dict(RunStep.objects.filter(run=run).values_list("step_id", "executions")) == {
        "checkout": 1, "build": 1, "unit-tests": 1, "flaky-check": 2, "deploy": 1}
