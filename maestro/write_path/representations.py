"""The API shape of an audit row (``/api/maestro/audit/log`` and the ``audit:created`` event)."""

from __future__ import annotations

from typing import Any

from maestro.core.wire import to_iso
from maestro.write_path.models import AuditEvent


def audit_repr(row: AuditEvent) -> dict[str, Any]:
    return {
        "id": row.legacy_id or str(row.id),
        "timestamp": to_iso(row.timestamp),
        "actor": row.actor,
        "action": row.action,
        "resource": row.resource,
        "details": row.details,
        "status": row.status,
        "policyId": row.policy_id or None,
        "requestId": row.request_id or None,
    }
