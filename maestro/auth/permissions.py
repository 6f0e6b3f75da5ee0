from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from maestro.core.exceptions import Forbidden
from maestro.core.roles import Role
from maestro.tenancy.access import Access, access_granted, resolve_access
from maestro.write_path.catalogue import request_action, resource
from maestro.write_path.guards import write_refusal
from maestro.write_path.services import record_denied


class TenantRolePermission(BasePermission):
    """Default deny: authenticated, a member of the tenant, and holding the role the view asks
    for (``read_role`` for safe methods, ``write_role`` otherwise). A refused write is audited."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False  # DRF answers 401
        access = resolve_access(request.user, request.auth, request.META)
        request.access = access  # type: ignore[attr-defined]
        needed = getattr(view, "read_role", Role.VIEWER) if request.method in SAFE_METHODS \
            else getattr(view, "write_role", Role.OPERATOR)
        writing = request.method not in SAFE_METHODS
        if access.allows(needed):
            # The domain's write guards (the safety loop's strict mode) may still refuse a write.
            refusal = write_refusal(tenant_id=access.tenant.pk, actor=access.actor, role=access.role) \
                if writing else None
            if refusal is None:
                request.access, request.user = access_granted(access, request.user, request.auth)  # type: ignore[attr-defined]
                return True
            _record(request, view, access, policy_id=refusal.policy, details=refusal.message)
            raise refusal
        if writing:
            _record(request, view, access, policy_id=f"rbac.requires_{needed}",
                    details=f"{access.actor.name} ({access.role}) needs {needed}")
        raise Forbidden(f"Requires the {needed} role", details={"role": access.role, "required": needed})


def _record(request: Request, view: Any, access: Access, *, policy_id: str, details: str) -> None:
    """A refused write: denied in the audit log under ``policy_id``."""
    assert request.method is not None  # None only on an HttpRequest built by hand
    resource_id = str(view.kwargs.get(getattr(view, "lookup_url_kwarg", "pk"), "")
                      or next(iter(view.kwargs.values()), ""))
    # Cut to the audit/ledger column widths: a long id in the URL must not turn the
    # denial into a 500.
    record_denied(tenant_id=access.tenant.pk, actor=access.actor, action=request_action(request.method, request.path),
                  resource_type=resource(getattr(view, "resource_type", "api")), resource_id=resource_id[:200],
                  policy_id=policy_id, details=details)
