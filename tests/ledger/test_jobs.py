from __future__ import annotations

import pytest
from django.core.management import call_command

from ledger import jobs
from ledger.models import ArchiveSegment, IntakeEntry, LedgerEntry
from maestro.queue import run_deferred_now
from tests.ledger.conftest import append

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager():
    from maestro.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_the_jobs_have_stable_names():
    assert {jobs.sequence_tenant_job.name, jobs.sweep_job.name, jobs.archive_job.name,
            jobs.archive_tenant_job.name} == {"ledger.sequence_tenant", "ledger.sweep", "ledger.archive",
                                              "ledger.archive_tenant"}


def test_a_long_backlog_is_drained_in_bounded_runs_that_chain_themselves(tenant, settings, monkeypatch, eager):
    # given: runs of one batch of two
    settings.MAESTRO_LEDGER_BATCH_SIZE = 2
    settings.MAESTRO_LEDGER_LINGER_SECONDS = 0
    settings.MAESTRO_LEDGER_EMBEDDED_DELAY_SECONDS = 600  # successors run when the test says so
    monkeypatch.setattr(jobs, "MAX_BATCHES_PER_RUN", 1)
    append(tenant, 5)

    # when
    first_run = jobs.sequence_tenant_job.apply(args=[tenant.pk]).get()

    # then: the first run did one batch and woke one successor, which woke the next
    assert first_run == 2
    assert LedgerEntry.objects.filter(tenant=tenant).count() == 2
    assert run_deferred_now() == 1
    assert run_deferred_now() == 1
    assert run_deferred_now() == 0
    assert LedgerEntry.objects.filter(tenant=tenant).count() == 5
    assert IntakeEntry.objects.filter(tenant=tenant).count() == 0


def test_the_sweep_job_sequences_every_backlog(tenant, other_tenant):
    append(tenant, 2)
    append(other_tenant, 1)
    assert jobs.sweep_job.apply().get() == 3
    assert IntakeEntry.objects.count() == 0


def test_the_archive_job_archives_each_tenant_with_sealed_entries(tenant, settings, archive_url, eager):
    # given: 4 entries, segments of 2
    settings.MAESTRO_ARCHIVE_SEGMENT_MAX = 2
    append(tenant, 4)
    jobs.sweep_job.apply(kwargs={}).get()

    # when
    enqueued = jobs.archive_job.apply().get()

    # then: one batch, one checkpoint at 4, so one segment past the size limit (segments end at
    # signed checkpoints)
    assert enqueued == 1
    assert list(ArchiveSegment.objects.values_list("first_sequence", "last_sequence")) == [(1, 4)]


def test_ledger_sequence_command(tenant, capsys):
    append(tenant, 3)
    call_command("ledger_sequence")
    assert f"tenant {tenant.pk}: sequenced 3" in capsys.readouterr().out
    assert IntakeEntry.objects.count() == 0
