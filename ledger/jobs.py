"""Celery jobs of the ledger: thin wrappers that take ids and call the sequencer / archiver."""

from __future__ import annotations

import logging
from typing import Any

from ledger import archiver, sequencer
from ledger.checkpoint_archive import ON_COMMIT_LIMIT, PUBLISH_JOB, checkpoint_publish_woken, checkpoints_publish
from ledger.metrics import ARCHIVE_FAILURES
from maestro.queue import Queue, enqueue, job

log = logging.getLogger(__name__)

# A woken sequencer drains at most this many batches, then wakes a fresh run for what is left,
# so one busy tenant cannot hold a worker forever.
MAX_BATCHES_PER_RUN = 20
SWEEP_JOB = "ledger.sweep"
ARCHIVE_JOB = "ledger.archive"
ARCHIVE_TENANT_JOB = "ledger.archive_tenant"


@job(sequencer.SEQUENCE_JOB, queue=Queue.SEQUENCER, bind=True, soft_time_limit=120, time_limit=180)
def sequence_tenant_job(self: Any, tenant_id: int) -> int:
    """A tenant's wake-up (at most one pending per tenant): no longer pending from here on, so
    a write that commits while this runs wakes the next run; what committed before is ours.
    In-process (the embedded default's deferred thread) a run takes what is there and leaves
    later writes to the next run, instead of lingering for them."""
    sequencer.sequencer_woken(tenant_id)
    return sequencer.sequence_tenant(tenant_id=tenant_id, max_batches=MAX_BATCHES_PER_RUN,
                                     drain=not self.request.is_eager)


@job(SWEEP_JOB, queue=Queue.PERIODIC, soft_time_limit=300, time_limit=360)
def sweep_job() -> int:
    """Safety net behind the on-commit poke: sequence every tenant with a backlog."""
    return sum(sequencer.sweep(max_batches_per_tenant=MAX_BATCHES_PER_RUN).values())


@job(PUBLISH_JOB, queue=Queue.BULK, soft_time_limit=60, time_limit=90)
def publish_checkpoints_job(tenant_id: int) -> int:
    """Write the tenant's new signed checkpoints to the archive right after their batch
    committed. A failure is logged and counted, not retried here: the periodic ledger.archive
    job resumes from the tenant's mark, so no checkpoint is lost."""
    checkpoint_publish_woken(tenant_id=tenant_id)
    try:
        return checkpoints_publish(tenant_id=tenant_id, limit=ON_COMMIT_LIMIT)
    except Exception:
        ARCHIVE_FAILURES.inc()
        log.warning("checkpoint not archived yet", exc_info=True,
                    extra={"event": "ledger.checkpoint_archive_failed", "tenant_id": tenant_id})
        return 0


@job(ARCHIVE_JOB, queue=Queue.PERIODIC, soft_time_limit=60, time_limit=90)
def archive_job() -> int:
    """Enqueue an archiver run per tenant with sealed, unarchived entries."""
    tenant_ids = archiver.tenants_to_archive()
    for tenant_id in tenant_ids:
        enqueue(ARCHIVE_TENANT_JOB, tenant_id)
    return len(tenant_ids)


@job(ARCHIVE_TENANT_JOB, queue=Queue.BULK, bind=True, max_retries=None, soft_time_limit=600, time_limit=660)
def archive_tenant_job(self: Any, tenant_id: int) -> int:
    """Write the checkpoints whose upload after their commit failed, then archive until nothing
    sealed is left; on any failure retry with backoff, forever: WORM archival is guaranteed
    eventually, and the lag metric shows how far behind it is."""
    try:
        checkpoints_publish(tenant_id=tenant_id)
        return len(archiver.archive_tenant(tenant_id=tenant_id))
    except archiver.ArchiveRefused:
        log.error("archive refused", exc_info=True, extra={"event": "ledger.archive_refused", "tenant_id": tenant_id})
        raise
    except Exception as exc:
        ARCHIVE_FAILURES.inc()
        if self.request.is_eager:
            # In-process (embedded default) a retry would recurse at once; the periodic
            # ledger.archive job tries again instead.
            log.warning("archive failed", exc_info=True,
                        extra={"event": "ledger.archive_failed", "tenant_id": tenant_id})
            return 0
        delay = min(600, 5 * 2 ** min(self.request.retries, 7))
        log.warning("archive failed, retrying", exc_info=True,
                    extra={"event": "ledger.archive_retry", "tenant_id": tenant_id, "in_seconds": delay})
        raise self.retry(exc=exc, countdown=delay) from exc
