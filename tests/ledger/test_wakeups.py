"""Waking the sequencer (issue #9): a write wakes it only when no wake-up of its tenant is
pending, and no committed entry is ever left unsequenced (PostgreSQL, Redis, real threads)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction

from ledger.checkpoint_archive import PUBLISH_JOB
from ledger.models import IntakeEntry, LedgerEntry
from ledger.sequencer import SEQUENCE_JOB, sequence_tenant
from ledger.services import intake_add, sequencer_poke_on_commit
from maestro.queue import woken
from maestro.tenancy.services import tenant_get_or_create
from tests.ledger.conftest import claim_query, in_thread, pause_after, postgres_only
from tests.support.jobs import celery_eager, purge, queue_of, queued, run_next

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 16
PER_WRITER = 10


@pytest.fixture
def broker(settings) -> Iterator[str]:
    """Jobs go through the Redis broker; nothing consumes them unless the test does. Yields
    the sequencer's queue."""
    if not settings.REDIS_URL:
        pytest.skip("needs Redis")
    settings.MAESTRO_LEDGER_LINGER_SECONDS = 0
    queue = queue_of(SEQUENCE_JOB)
    purge(queue)
    with celery_eager(False):
        yield queue
    purge(queue)


def forget_wake_ups(queue: str, tenant_id: int) -> None:
    """Drop the tenant's pending wake-up, as if a worker had taken it and died."""
    from maestro.queue import woken

    purge(queue)
    woken(SEQUENCE_JOB, tenant_id)


@pytest.fixture
def tenant_id(broker) -> int:
    tenant = tenant_get_or_create(slug="wake")
    forget_wake_ups(broker, tenant.pk)  # none left by an earlier test with the same pk
    return tenant.pk


def write(tenant_id: int, tag: str) -> Any:
    """One write as the write path makes it: an intake row, and the sequencer poked on commit."""
    with transaction.atomic():
        row = intake_add(tenant_id=tenant_id, action_type="load.write", resource_type="writer",
                         resource_id=tag, actor_id=tag, actor_type="job", payload={"tag": tag}, metadata={})
        sequencer_poke_on_commit(tenant_ids=[tenant_id])
    return row


def writers(tenant_id: int, receipts: list[Any], errors: list[Exception]) -> list[threading.Thread]:
    def run(k: int) -> None:
        try:
            for i in range(PER_WRITER):
                receipts.append(write(tenant_id, f"w{k}-{i}").id)
        except Exception as exc:  # surfaced by the assertions
            errors.append(exc)
        finally:
            connection.close()

    return [threading.Thread(target=run, args=(k,)) for k in range(WRITERS)]


def assert_all_sequenced_once(tenant_id: int, receipts: list[Any]) -> None:
    entries = list(LedgerEntry.objects.filter(tenant_id=tenant_id).order_by("sequence_number")
                   .values_list("sequence_number", "id"))
    assert [seq for seq, _ in entries] == list(range(1, len(receipts) + 1))  # gapless
    assert sorted(str(i) for _, i in entries) == sorted(str(r) for r in receipts)  # each once
    assert IntakeEntry.objects.filter(tenant_id=tenant_id).count() == 0


@postgres_only
def test_concurrent_writes_of_one_tenant_wake_the_sequencer_once(broker, tenant_id):
    # when: 16 threads write 10 entries each, each write its own transaction; no worker runs
    receipts: list[Any] = []
    errors: list[Exception] = []
    threads = writers(tenant_id, receipts, errors)
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then: one wake-up is waiting for the tenant, not one per write
    assert errors == []
    assert queued(broker) == [(SEQUENCE_JOB, [tenant_id])]

    # when: a worker runs it
    run_next(broker)

    # then: every entry is sequenced exactly once, gapless, and nothing else was enqueued
    assert_all_sequenced_once(tenant_id, receipts)
    assert queued(broker) == []


@postgres_only
def test_writes_racing_a_draining_worker_never_queue_two_wake_ups_and_all_get_sequenced(broker, tenant_id):
    # given: a worker thread that runs the tenant's wake-ups as they arrive
    done = threading.Event()
    depths: list[int] = []
    runs: list[Any] = []

    def worker() -> None:
        import redis

        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        try:
            while True:
                depths.append(client.llen(broker))
                ran = run_next(broker)
                if ran is not None:
                    runs.append(ran)
                elif done.is_set():
                    break
        finally:
            client.close()
            connection.close()

    drainer = threading.Thread(target=worker)
    drainer.start()

    # when: 16 writer threads write while it drains
    receipts: list[Any] = []
    errors: list[Exception] = []
    threads = writers(tenant_id, receipts, errors)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    drainer.join(timeout=120)

    # then: never more than one wake-up waited at once, and the wake-ups alone (no sweep)
    # sequenced every entry exactly once
    assert errors == []
    assert max(depths) == 1
    assert 1 <= len(runs) <= WRITERS * PER_WRITER
    assert_all_sequenced_once(tenant_id, receipts)


def _backlog_check(sql: str) -> bool:
    # backlog_exists(): Django's exists() over the intake
    return f'AS "a" FROM "{IntakeEntry._meta.db_table}"' in sql and sql.endswith("LIMIT 1")


@postgres_only
def test_a_write_committed_after_the_drains_last_read_is_still_sequenced(broker, tenant_id):
    # given: one entry and its wake-up; the worker runs it and stops right after its last look
    # at the backlog (which it found empty)
    first = write(tenant_id, "first")
    reached, resume = threading.Event(), threading.Event()

    def drain() -> None:
        with pause_after(_backlog_check, reached, resume):
            run_next(broker)

    worker = in_thread(drain)
    assert reached.wait(30)
    assert LedgerEntry.objects.filter(id=first.id).exists()

    # when: a write commits in that window, then the run ends
    late = write(tenant_id, "late")
    resume.set()
    worker.join(30)

    # then: that write woke a fresh run, which sequences it
    assert queued(broker) == [(SEQUENCE_JOB, [tenant_id])]
    run_next(broker)
    assert_all_sequenced_once(tenant_id, [first.id, late.id])


@postgres_only
def test_a_wake_up_that_found_the_tenant_busy_is_covered_by_the_holder(broker, tenant_id):
    # given: an entry being sequenced by a bounded holder (one batch, like ?wait=true helping),
    # paused after it read its batch
    first = write(tenant_id, "first")
    forget_wake_ups(broker, tenant_id)  # the holder, not a wake-up, sequences it
    reached, resume = threading.Event(), threading.Event()

    def hold() -> None:
        with pause_after(claim_query, reached, resume):
            sequence_tenant(tenant_id=tenant_id, max_batches=1)

    holder = in_thread(hold)
    assert reached.wait(30)

    # when: a write commits; its wake-up runs while the holder still has the tenant (busy)
    late = write(tenant_id, "late")
    assert queued(broker) == [(SEQUENCE_JOB, [tenant_id])]
    run_next(broker)
    assert not LedgerEntry.objects.filter(id=late.id).exists()
    resume.set()
    holder.join(30)

    # then: the holder saw what was left when it stopped and woke a run for it
    assert LedgerEntry.objects.filter(id=first.id).exists()
    assert queued(broker) == [(SEQUENCE_JOB, [tenant_id])]
    run_next(broker)
    assert_all_sequenced_once(tenant_id, [first.id, late.id])


@postgres_only
def test_the_checkpoints_of_many_batches_wake_one_publication(broker, tenant_id):
    # given: 30 entries waiting, and no publication pending for the tenant
    publications = queue_of(PUBLISH_JOB)
    purge(publications)
    woken(PUBLISH_JOB, tenant_id)
    receipts = [write(tenant_id, f"w{i}").id for i in range(30)]
    forget_wake_ups(broker, tenant_id)

    # when: they are sequenced in batches of 5, each committing a signed checkpoint
    sequence_tenant(tenant_id=tenant_id, batch_size=5)

    # then: one publication waits for all six checkpoints, not one per batch
    assert LedgerEntry.objects.filter(tenant_id=tenant_id).count() == len(receipts)
    assert queued(publications) == [(PUBLISH_JOB, [tenant_id])]
    run_next(publications)
    assert queued(publications) == []
    purge(publications)
