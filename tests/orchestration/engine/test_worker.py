"""Real ``bin/worker`` processes against Redis and PostgreSQL run the steps: a run completes; a
worker killed with SIGKILL in the middle of a step loses nothing — the reaper requeues the step
once its lease expires, another worker runs it, and it succeeds exactly once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from orchestration.engine.models import RunStep, StepTransition
from orchestration.runs.models import Run
from tests.factories import SYSTEM
from tests.support.processes import wait_for

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def workers(worker_processes):
    """Real bin/worker processes on the steps queue, with a short step lease."""
    from maestro.queue import Queue, queue_name

    return lambda: worker_processes(queue_name(Queue.STEPS), MAESTRO_ENGINE_LEASE_SECONDS="2")




def start_run(tenant, spec):
    from orchestration.engine.services import run_start, workflow_create

    workflow_create(tenant=tenant, actor=SYSTEM, name="w", spec_json=spec)
    run, _ = run_start(tenant=tenant, actor=SYSTEM, workflow="w")
    return run


def test_a_real_worker_runs_a_dag_to_completion(tenant, workers):
    # given
    worker = workers()
    spec = {"steps": [{"id": "a", "action": "noop"}, {"id": "b", "action": "sleep", "params": {"seconds": 0.2},
                                                      "dependsOn": ["a"]},
                      {"id": "c", "action": "noop", "dependsOn": ["a"]},
                      {"id": "d", "action": "noop", "dependsOn": ["b", "c"]}]}

    # when
    run = start_run(tenant, spec)
    wait_for(lambda: Run.objects.get(pk=run.id).status in Run.FINISHED)

    # then
    assert Run.objects.get(pk=run.id).status == "succeeded"
    assert sorted(RunStep.objects.filter(run=run).values_list("step_id", "status", "executions")) == [
        ("a", "succeeded", 1), ("b", "succeeded", 1), ("c", "succeeded", 1), ("d", "succeeded", 1)]
    # each step names the job process that ran it (a child of the worker), not the worker itself
    pids = {int(w.rsplit(":", 1)[1]) for w in RunStep.objects.filter(run=run).values_list("worker", flat=True)}
    parents = {int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) for pid in pids}
    assert parents == {worker.pid}


def test_a_worker_killed_mid_step_loses_nothing_and_the_step_succeeds_exactly_once(tenant, workers):
    from orchestration.engine.services.steps import steps_reap

    # given: a worker in the middle of a 3 s step
    victim = workers()
    run = start_run(tenant, {"steps": [{"id": "slow", "action": "sleep", "params": {"seconds": 3}},
                                       {"id": "after", "action": "noop", "dependsOn": ["slow"]}]})
    wait_for(lambda: RunStep.objects.get(run=run, step_id="slow").status == "running")

    # when: it is killed outright; its lease (2 s) runs out; the scheduler's reaper runs; another worker
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=20)
    wait_for(lambda: steps_reap() == 1, seconds=30)
    workers()
    wait_for(lambda: Run.objects.get(pk=run.id).status in Run.FINISHED)

    # then
    slow = RunStep.objects.get(run=run, step_id="slow")
    assert Run.objects.get(pk=run.id).status == "succeeded"
    assert (slow.status, slow.attempts, slow.executions) == ("succeeded", 1, 2)
    assert list(StepTransition.objects.filter(step=slow).values_list("status", flat=True)) == [
        "queued", "running", "queued", "running", "succeeded"]
    assert StepTransition.objects.filter(run_id=run.id, status="succeeded").count() == 2  # slow, after: once each
