"""Jobs of the write path: audit retention."""

from __future__ import annotations

from maestro.queue import job
from maestro.write_path.services import audit_prune

PRUNE_AUDIT_JOB = "write_path.prune_audit"


@job(PRUNE_AUDIT_JOB, soft_time_limit=300, time_limit=360)
def prune_audit_job() -> int:
    """Deletes audit rows past ``MAESTRO_AUDIT_RETENTION_DAYS`` (scheduled hourly)."""
    return audit_prune()
