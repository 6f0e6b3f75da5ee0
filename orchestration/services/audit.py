"""Audit helpers for the control-state services: refused writes leave a ``denied`` row that
names the policy, and the audit log is trimmed only by age (never by count)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import Conflict, PreconditionFailed
from maestro.write_path import record_denied
from orchestration.models import AuditEvent

OPTIMISTIC_CONCURRENCY = "optimistic_concurrency"


@contextmanager
def refusals_audited(*, tenant: Any, actor: Actor, action: str, resource_type: str,
                     resource_id: str) -> Iterator[None]:
    """Wrap a service's ``with service():`` block. A refusal by policy (stale version → 412,
    a lifecycle rule → 409) rolls the change back and then, in a transaction of its own, writes
    a ``denied`` audit row naming the policy. Plain validation errors (400) are not audited:
    nothing was attempted against the stored state."""
    try:
        yield
    except PreconditionFailed as exc:
        _deny(tenant=tenant, actor=actor, action=action, resource_type=resource_type, resource_id=resource_id,
              policy_id=OPTIMISTIC_CONCURRENCY,
              details=f"{exc.message} (current version {exc.details.get('currentVersion')}, "
                      f"If-Match {exc.details.get('expectedVersion')})")
        raise
    except Conflict as exc:
        _deny(tenant=tenant, actor=actor, action=action, resource_type=resource_type, resource_id=resource_id,
              policy_id=str(exc.details.get("policy", "state_machine")), details=exc.message)
        raise


def _deny(**kwargs: Any) -> None:
    try:
        record_denied(**kwargs)
    except RuntimeError:
        # Called from inside a caller's own write unit (e.g. an import batch): that unit is
        # rolling back and reports the refusal itself.
        pass


def audit_prune(*, now: Any = None) -> int:
    """Deletes audit rows older than ``MAESTRO_AUDIT_RETENTION_DAYS`` (0 or unset: keep all).
    The ledger keeps its own tamper-evident copy of every row regardless."""
    days = int(getattr(settings, "MAESTRO_AUDIT_RETENTION_DAYS", 0) or 0)
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return AuditEvent.objects.filter(timestamp__lt=cutoff).delete()[0]
