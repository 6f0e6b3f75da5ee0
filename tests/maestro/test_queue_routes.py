"""Each job goes to the broker queue of its kind (issue #9): the sequencer's wake-ups, the
periodic jobs and bulk work never wait behind each other or behind workflow steps."""

from __future__ import annotations

import pytest
from django.conf import settings

from maestro import processes
from maestro.queue import enqueue
from tests.support.jobs import celery_eager, purge, queue_of, queued

DEFAULT = settings.CELERY_TASK_DEFAULT_QUEUE
ROUTES = {
    "ledger.sequence_tenant": f"{DEFAULT}.sequencer",
    "ledger.sweep": f"{DEFAULT}.periodic",
    "ledger.archive": f"{DEFAULT}.periodic",
    "realtime.prune_events": f"{DEFAULT}.periodic",
    "write_path.prune_audit": f"{DEFAULT}.periodic",
    "write_path.prune_idempotency_keys": f"{DEFAULT}.periodic",
    "ledger.archive_tenant": f"{DEFAULT}.bulk",
    "engine.reap": f"{DEFAULT}.periodic",
    "engine.step": f"{DEFAULT}.steps",
    "autonomic.dispatch": f"{DEFAULT}.periodic",
    "autonomic.tick": f"{DEFAULT}.loops",
}
ALL_QUEUES = [DEFAULT, f"{DEFAULT}.sequencer", f"{DEFAULT}.periodic", f"{DEFAULT}.bulk", f"{DEFAULT}.steps",
              f"{DEFAULT}.loops"]


@pytest.fixture
def broker():
    if not settings.REDIS_URL:
        pytest.skip("needs Redis")
    purge(*ALL_QUEUES)
    with celery_eager(False):
        yield
    purge(*ALL_QUEUES)


@pytest.mark.parametrize(("name", "queue"), sorted(ROUTES.items()))
def test_an_enqueued_job_lands_on_the_queue_of_its_kind(broker, name, queue):
    # when: enqueued through the house API, as services and the scheduler do
    takes_an_id = ("ledger.sequence_tenant", "ledger.archive_tenant", "engine.step", "autonomic.tick")
    args = [4242] if name in takes_an_id else []
    enqueue(name, *args)

    # then: the message waits on its own queue and on no other
    assert {q: queued(q) for q in ALL_QUEUES} == {q: [(name, args)] if q == queue else [] for q in ALL_QUEUES}


def test_every_periodic_job_runs_on_the_periodic_queue():
    assert {name: queue_of(name) for name in settings.MAESTRO_PERIODIC_JOBS} == dict.fromkeys(
        settings.MAESTRO_PERIODIC_JOBS, f"{DEFAULT}.periodic")


def test_a_worker_consumes_every_queue_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("MAESTRO_WORKER_QUEUES", raising=False)
    assert processes.worker_queue_args([]) == ["--queues", ",".join(ALL_QUEUES)]
    assert processes.worker_queue_args(["--concurrency", "2"]) == ["--queues", ",".join(ALL_QUEUES)]


def test_a_dedicated_worker_consumes_the_queues_it_names(monkeypatch):
    # by kind, in the environment
    monkeypatch.setenv("MAESTRO_WORKER_QUEUES", "sequencer, periodic")
    assert processes.worker_queue_args([]) == ["--queues", f"{DEFAULT}.sequencer,{DEFAULT}.periodic"]
    # Celery's own -Q wins over both
    assert processes.worker_queue_args(["-Q", "custom"]) == []
    assert processes.worker_queue_args(["--queues=custom"]) == []


def test_an_unknown_queue_kind_is_a_configuration_error(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("MAESTRO_WORKER_QUEUES", "sequencer,fast")
    with pytest.raises(ImproperlyConfigured, match="MAESTRO_WORKER_QUEUES: unknown queue 'fast'"):
        processes.worker_queue_args([])
