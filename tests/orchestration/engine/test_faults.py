"""Faults with real processes: Redis (the broker) restarted empty in the middle of a run. The
messages it held are gone; bin/worker and bin/scheduler reconnect, the reaper sends again the
message of every step left waiting, and the run finishes with each step succeeded exactly once."""

from __future__ import annotations

import time

import pytest

from orchestration.engine.models import RunStep, StepTransition
from orchestration.runs.models import Run
from tests.factories import SYSTEM
from tests.support.jobs import celery_eager
from tests.support.processes import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis, pytest.mark.postgres]
STEPS = [f"s{i}" for i in range(1, 7)]
SPEC = {"steps": [{"id": s, "action": "sleep", "params": {"seconds": 0.4},
                   **({"dependsOn": [STEPS[i - 1]]} if i else {})} for i, s in enumerate(STEPS)]}


def succeeded() -> int:
    return RunStep.objects.filter(status=RunStep.Status.SUCCEEDED).count()


def test_redis_restarted_empty_mid_run_loses_no_step_and_doubles_none(tenant, redis_server, maestro_processes):
    from orchestration.engine.services import run_start, workflow_create

    # given: a worker and a scheduler (the reaper every second) on a Redis of the test's own
    env = {"MAESTRO_REDIS_URL": redis_server.url, "MAESTRO_ENGINE_LEASE_SECONDS": "2",
           "MAESTRO_ENGINE_RESEND_AFTER_SECONDS": "2", "MAESTRO_ENGINE_REAP_INTERVAL": "1"}
    maestro_processes("bin/worker", **env)
    maestro_processes("bin/scheduler", **env)
    workflow_create(tenant=tenant, actor=SYSTEM, name="chain", spec_json=SPEC)
    # the run's first message goes to this test's own broker, where no worker reads: lost too
    with celery_eager(False):
        run, _ = run_start(tenant=tenant, actor=SYSTEM, workflow="chain")

    # when: two steps are done, Redis is killed, and started again empty a moment later
    wait_for(lambda: succeeded() >= 2, 90)
    redis_server.kill()
    time.sleep(1.5)
    redis_server.start()

    # then: the run finishes, every step succeeded once
    wait_for(lambda: Run.objects.get(pk=run.pk).status in Run.FINISHED, 45)
    assert Run.objects.get(pk=run.pk).status == "succeeded"
    assert dict(RunStep.objects.values_list("step_id", "status")) == dict.fromkeys(STEPS, "succeeded")
    once = StepTransition.objects.filter(status="succeeded").values_list("step__step_id", flat=True)
    assert sorted(once) == STEPS


def test_database_connections_dropped_mid_run_lose_no_step_and_double_none(tenant, maestro_processes):
    from django.db import connection

    from orchestration.engine.services import run_start, workflow_create

    # given: a worker and a scheduler; steps that each take a moment (begin and end in their own
    # transactions) alternating with noops (one transaction each)
    env = {"MAESTRO_ENGINE_LEASE_SECONDS": "2", "MAESTRO_ENGINE_RESEND_AFTER_SECONDS": "2",
           "MAESTRO_ENGINE_REAP_INTERVAL": "1", "MAESTRO_DB_APPLICATION_NAME": "maestro-fault-test"}
    processes = [maestro_processes("bin/worker", **env), maestro_processes("bin/scheduler", **env)]
    steps = [{"id": f"s{i}", "action": "sleep" if i % 2 else "noop", "params": {"seconds": 0.3} if i % 2 else {},
              **({"dependsOn": [f"s{i - 1}"]} if i else {})} for i in range(8)]
    workflow_create(tenant=tenant, actor=SYSTEM, name="dropped", spec_json={"steps": steps})
    run, _ = run_start(tenant=tenant, actor=SYSTEM, workflow="dropped")

    # when: every connection of those processes is cut, again and again, while the run runs (this
    # process's own are spared: the next test needs them)
    wait_for(lambda: succeeded() >= 1, 90)
    cuts = 0
    for _ in range(12):
        with connection.cursor() as cur:
            cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND application_name = 'maestro-fault-test'")
            cuts += cur.fetchone()[0]
        time.sleep(0.25)

    # then: connections were cut, and still the run finishes with every step succeeded once
    assert cuts > 0
    wait_for(lambda: Run.objects.get(pk=run.pk).status in Run.FINISHED or any(p.poll() is not None for p in processes),
             90)
    assert [p.poll() for p in processes] == [None, None]  # both rode it out (the scheduler once exited)
    assert Run.objects.get(pk=run.pk).status == "succeeded"
    names = [s["id"] for s in steps]
    assert dict(RunStep.objects.filter(run=run).values_list("step_id", "status")) == dict.fromkeys(names, "succeeded")
    once = StepTransition.objects.filter(run=run, status="succeeded").values_list("step__step_id", flat=True)
    assert sorted(once) == sorted(names)
