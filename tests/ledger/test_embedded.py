"""The embedded default (no broker, jobs in-process): writes appended one by one are
sequenced in batches, not one signed checkpoint per write (issue #9)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from django.db import transaction

from ledger.models import Checkpoint, IntakeEntry, LedgerEntry
from ledger.services import intake_add, sequencer_poke_on_commit
from maestro.queue import run_deferred_now
from tests.ledger.conftest import claim_query, in_thread, pause_after, postgres_only
from tests.support.jobs import celery_eager

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def embedded(settings) -> Iterator[None]:
    settings.MAESTRO_LEDGER_LINGER_SECONDS = 0
    with celery_eager(True):
        yield
        while run_deferred_now():  # nothing of this test runs in a later one
            pass


def append_one_by_one(tenant, n: int) -> list:
    receipts = []
    for i in range(n):
        with transaction.atomic():
            receipts.append(intake_add(tenant_id=tenant.pk, action_type="task.update", resource_type="task",
                                       resource_id=f"t{i}", actor_id="u", actor_type="user", payload={"i": i},
                                       metadata={}))
            sequencer_poke_on_commit(tenant_ids=[tenant.pk])
    return receipts


def test_sixty_writes_one_by_one_make_one_checkpoint(tenant, embedded, settings):
    # given: the in-process sequencer runs a tenant's wake-up a while after the first write
    # (long enough here that it runs only when the test says so)
    settings.MAESTRO_LEDGER_EMBEDDED_DELAY_SECONDS = 600

    # when: 60 writes commit one by one, then the pending wake-up runs
    receipts = append_one_by_one(tenant, 60)
    assert LedgerEntry.objects.filter(tenant=tenant).count() == 0  # no write paid for sequencing
    assert run_deferred_now() == 1

    # then: one batch, one signed checkpoint covering all 60
    assert list(Checkpoint.objects.filter(tenant_id=tenant.pk).values_list("tree_size", flat=True)) == [60]
    assert sorted(str(e) for e in LedgerEntry.objects.filter(tenant=tenant).values_list("id", flat=True)) == sorted(
        str(r.id) for r in receipts)
    assert IntakeEntry.objects.filter(tenant=tenant).count() == 0
    assert run_deferred_now() == 0  # nothing else was pending


def test_the_batch_size_still_bounds_each_checkpoint(tenant, embedded, settings):
    settings.MAESTRO_LEDGER_EMBEDDED_DELAY_SECONDS = 600
    settings.MAESTRO_LEDGER_BATCH_SIZE = 25

    append_one_by_one(tenant, 60)
    run_deferred_now()

    assert list(Checkpoint.objects.filter(tenant_id=tenant.pk).order_by("tree_size")
                .values_list("tree_size", flat=True)) == [25, 50, 60]
    assert LedgerEntry.objects.filter(tenant=tenant).count() == 60


def test_a_write_after_the_run_wakes_the_sequencer_again(tenant, embedded, settings):
    settings.MAESTRO_LEDGER_EMBEDDED_DELAY_SECONDS = 600
    append_one_by_one(tenant, 3)
    assert run_deferred_now() == 1

    append_one_by_one(tenant, 2)
    assert run_deferred_now() == 1

    assert list(Checkpoint.objects.filter(tenant_id=tenant.pk).order_by("tree_size")
                .values_list("tree_size", flat=True)) == [3, 5]


@postgres_only
def test_writes_committed_during_a_run_wait_for_the_next_run(tenant, embedded, settings):
    # given: three writes; their run is paused right after it read its batch
    settings.MAESTRO_LEDGER_EMBEDDED_DELAY_SECONDS = 600
    append_one_by_one(tenant, 3)
    reached, resume = threading.Event(), threading.Event()

    def run() -> None:
        with pause_after(claim_query, reached, resume):
            run_deferred_now()

    runner = in_thread(run)
    assert reached.wait(30)

    # when: two more writes commit meanwhile, then the run ends
    append_one_by_one(tenant, 2)
    resume.set()
    runner.join(30)

    # then: that run made one checkpoint and did not linger for them; they woke the next run
    assert list(Checkpoint.objects.filter(tenant_id=tenant.pk).values_list("tree_size", flat=True)) == [3]
    assert run_deferred_now() == 1
    assert list(Checkpoint.objects.filter(tenant_id=tenant.pk).order_by("tree_size")
                .values_list("tree_size", flat=True)) == [3, 5]
    assert IntakeEntry.objects.filter(tenant=tenant).count() == 0


def test_the_in_process_sequencer_runs_by_itself_after_the_delay(tenant, embedded, settings):
    # given: the default's short delay
    settings.MAESTRO_LEDGER_EMBEDDED_DELAY_SECONDS = 0.05

    # when
    append_one_by_one(tenant, 5)

    # then: sequenced without anyone flushing (waited for, not timed)
    deadline = time.monotonic() + 30
    while IntakeEntry.objects.filter(tenant=tenant).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert LedgerEntry.objects.filter(tenant=tenant).count() == 5
    assert Checkpoint.objects.filter(tenant_id=tenant.pk).count() >= 1
