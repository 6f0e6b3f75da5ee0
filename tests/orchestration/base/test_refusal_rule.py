"""The one refusal rule (docs/decisions.md #12), pinned for every entity: a refusal by policy
changes nothing and is recorded once, as a denied audit row (with its ledger entry and
``audit:created`` event) naming the policy and the attempted change; a validation error or a
missing object changes nothing and records nothing."""

from __future__ import annotations

from typing import Any

import pytest

from maestro.core.exceptions import MaestroError
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action
from orchestration.control.services.agents import agent_update
from orchestration.control.services.experiments import experiment_run
from orchestration.control.services.loops import loop_create, loop_update
from orchestration.control.services.merge_trains import merge_train_pr_upsert
from orchestration.control.services.playbooks import playbook_delete
from orchestration.control.services.seed import seed_defaults
from orchestration.runs.services import run_create, run_transition
from orchestration.work.services.projects import project_delete, project_update
from orchestration.work.services.sessions import session_create
from orchestration.work.services.tasks import subtask_create, task_create
from tests.factories import SYSTEM, make_project, make_task
from tests.support.writes import Mark

A = {"actor": SYSTEM}


class Seeded:
    """One of every entity, for the calls below to refuse."""

    def __init__(self, tenant: Tenant) -> None:
        seed_defaults(tenant=tenant, actor=SYSTEM)
        self.tenant = tenant
        self.project = make_project(tenant, "Busy")
        self.task = make_task(tenant, self.project, "Blocker")
        session_create(tenant=tenant, actor=SYSTEM, project=self.project, task_ids=[self.task.id],
                       session_id="sess_taken")
        self.run, _ = run_create(tenant=tenant, actor=SYSTEM, pipeline="build")
        for status in ("running", "succeeded"):
            run_transition(tenant=tenant, actor=SYSTEM, run_id=self.run.id, to=status)


# entity: (the refused call, its audit action, the resource it names, policy, status code)
REFUSALS: dict[str, tuple[Any, str, Any, str, int]] = {
    "project stale edit": (
        lambda s: project_update(tenant=s.tenant, **A, project_id=s.project.id, changes={"name": "x"},
                                 expected_version=9),
        "project.update", lambda s: s.project.id, "optimistic_concurrency", 412),
    "project with tasks": (
        lambda s: project_delete(tenant=s.tenant, **A, project_id=s.project.id),
        "project.delete", lambda s: s.project.id, "project_has_dependencies", 400),
    "session taken id": (
        lambda s: session_create(tenant=s.tenant, **A, project=s.project, task_ids=[], session_id="sess_taken"),
        "session.create", lambda s: "sess_taken", "unique_id", 409),
    "spawn names what was attempted": (
        lambda s: session_create(tenant=s.tenant, **A, project=s.project, task_ids=[s.task.id],
                                 session_id="sess_taken", action=Action.SESSION_SPAWN),
        "session.spawn", lambda s: "sess_taken", "unique_id", 409),
    "loop stale edit": (
        lambda s: loop_update(tenant=s.tenant, **A, loop_id="cost-optimization", changes={"name": "x"},
                              expected_version=9),
        "loop.update", lambda s: "cost-optimization", "optimistic_concurrency", 412),
    "loop taken id": (
        lambda s: loop_create(tenant=s.tenant, **A, loop_id="cost-optimization", name="x", type="cost"),
        "loop.create", lambda s: "cost-optimization", "unique_id", 409),
    "agent stale edit": (
        lambda s: agent_update(tenant=s.tenant, **A, agent_id="coder", changes={"routing_weight": 5},
                               expected_version=9),
        "agent.update", lambda s: "coder", "optimistic_concurrency", 412),
    "experiment lifecycle": (
        lambda s: experiment_run(tenant=s.tenant, **A, experiment_id="exp-001"),
        "experiment.run", lambda s: "exp-001", "experiment_lifecycle", 409),
    "playbook stale delete": (
        lambda s: playbook_delete(tenant=s.tenant, **A, playbook_id="pb-restart-pods", expected_version=9),
        "playbook.delete", lambda s: "pb-restart-pods", "optimistic_concurrency", 412),
    "merge train stale PR": (
        lambda s: merge_train_pr_upsert(tenant=s.tenant, **A, train_id="mt-main", number=1, title="x",
                                        expected_version=9),
        "merge_train.pr_upsert", lambda s: "mt-main", "optimistic_concurrency", 412),
    "run state machine": (
        lambda s: run_transition(tenant=s.tenant, **A, run_id=s.run.id, to="running"),
        "run.update", lambda s: s.run.id, "run_state_machine", 409),
}

# entity: (a call refused as bad input or a missing object, status code) — recorded nowhere
NOT_RECORDED: dict[str, tuple[Any, int]] = {
    "task with a missing parent": (
        lambda s: task_create(tenant=s.tenant, **A, project=s.project, title="x", parent_id="task_missing"), 400),
    "subtask of a missing task": (
        lambda s: subtask_create(tenant=s.tenant, **A, task_id="task_missing", title="x"), 404),
    "session of missing tasks": (
        lambda s: session_create(tenant=s.tenant, **A, project=s.project, task_ids=["task_missing"]), 404),
    "loop with a bad config": (
        lambda s: loop_update(tenant=s.tenant, **A, loop_id="cost-optimization", changes={"config": {"interval": 5}}),
        400),
    "missing agent": (
        lambda s: agent_update(tenant=s.tenant, **A, agent_id="nobody", changes={"routing_weight": 5}), 404),
    "run to an unknown status": (
        lambda s: run_transition(tenant=s.tenant, **A, run_id=s.run.id, to="exploded"), 400),
}


@pytest.mark.parametrize("entity", REFUSALS)
def test_a_refusal_changes_nothing_and_is_recorded_as_denied(tenant, entity):
    # given
    call, action, resource, policy, status = REFUSALS[entity]
    seeded = Seeded(tenant)
    before = Mark(tenant)
    # when
    with pytest.raises(MaestroError) as refused:
        call(seeded)
    # then
    assert refused.value.status_code == status
    denial = before.assert_denied(policy_id=policy, actor=SYSTEM.name)
    assert (denial.action, denial.resource) == (action, resource(seeded))


@pytest.mark.parametrize("entity", NOT_RECORDED)
def test_bad_input_changes_nothing_and_records_nothing(tenant, entity):
    call, status = NOT_RECORDED[entity]
    seeded = Seeded(tenant)
    before = Mark(tenant)
    with pytest.raises(MaestroError) as refused:
        call(seeded)
    assert refused.value.status_code == status
    before.assert_nothing_written()
