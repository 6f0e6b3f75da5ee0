"""The embedded default (no broker): step jobs run in this process, in the deferred thread, one
after another — never nested in the job that enqueued them, so a long chain has no recursion
depth, and never in the request that started the run."""

from __future__ import annotations

import sys
import time

import pytest

from orchestration.engine.models import RunStep
from orchestration.runs.models import Run
from tests.factories import SYSTEM

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_workers")]


def settle(run_id: str, seconds: float = 60) -> Run:
    from maestro.queue import run_deferred_now

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        run_deferred_now()
        run = Run.objects.get(pk=run_id)
        if run.status in Run.FINISHED:
            return run
        time.sleep(0.01)
    raise AssertionError(f"run {run_id} did not finish")


def test_a_ten_step_chain_completes_in_the_embedded_default_within_a_small_recursion_limit(tenant):
    from orchestration.engine.services import run_start, workflow_create

    # given: a chain of 10 steps, and a recursion limit nested eager jobs would blow through
    spec = {"steps": [{"id": f"s{i}", "action": "noop", **({"dependsOn": [f"s{i - 1}"]} if i else {})}
                      for i in range(10)]}
    workflow_create(tenant=tenant, actor=SYSTEM, name="chain", spec_json=spec)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        # when
        run, _ = run_start(tenant=tenant, actor=SYSTEM, workflow="chain")
        queued_after_start = Run.objects.get(pk=run.id).status
        done = settle(run.id)
    finally:
        sys.setrecursionlimit(limit)

    # then: the start returned before any step ran; then every step ran once, in order
    assert queued_after_start == "queued"
    assert done.status == "succeeded"
    steps = list(RunStep.objects.filter(run=run).order_by("position"))
    assert [(s.status, s.executions) for s in steps] == [("succeeded", 1)] * 10
    assert all(a.finished_at <= b.started_at for a, b in zip(steps, steps[1:], strict=False))
