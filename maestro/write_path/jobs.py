"""Jobs of the write path: audit retention, forgetting old idempotency keys."""

from __future__ import annotations

from maestro.queue import Queue, job
from maestro.write_path.idempotency import idempotency_prune
from maestro.write_path.services import audit_prune

PRUNE_AUDIT_JOB = "write_path.prune_audit"


@job(PRUNE_AUDIT_JOB, queue=Queue.PERIODIC, soft_time_limit=300, time_limit=360)
def prune_audit_job() -> int:
    """Deletes audit rows past ``MAESTRO_AUDIT_RETENTION_DAYS`` (scheduled hourly)."""
    return audit_prune()


PRUNE_IDEMPOTENCY_JOB = "write_path.prune_idempotency_keys"


@job(PRUNE_IDEMPOTENCY_JOB, queue=Queue.PERIODIC, soft_time_limit=300, time_limit=360)
def prune_idempotency_job() -> int:
    """Deletes idempotency keys past ``MAESTRO_IDEMPOTENCY_KEY_HOURS`` (scheduled hourly)."""
    return idempotency_prune()
