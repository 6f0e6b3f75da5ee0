"""The API shape of an audit row (``/api/maestro/audit/log`` and the ``audit:created`` event),
declared as the TypedDict its function returns (the OpenAPI document is derived from it)."""

from typing import TypedDict

from maestro.core.wire import IsoTime, to_iso
from maestro.write_path.models import AuditEvent


class AuditOut(TypedDict):
    id: str
    timestamp: IsoTime
    actor: str
    action: str
    resource: str
    details: str
    status: str
    policyId: str | None
    requestId: str | None


def audit_repr(row: AuditEvent) -> AuditOut:
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
