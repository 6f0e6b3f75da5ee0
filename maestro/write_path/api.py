"""``/api/maestro/audit/log``: the tenant's audit rows, newest first; never capped by count,
only by retention (DESIGN §4.2)."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.openapi import doc
from maestro.api.paging import Order
from maestro.api.views import MaestroAPIView
from maestro.write_path.representations import AuditOut, audit_repr
from maestro.write_path.selectors import audit_log

AUDIT_DEFAULT_LIMIT = 100
ORDER = Order.of("-timestamp", "-id")


class AuditLogView(MaestroAPIView):

    @doc(many=True, paged=True, response=AuditOut)
    def get(self, request: Request) -> Response:
        return self.paged(request, audit_log(tenant_id=self.access.tenant.pk), order=ORDER, present=audit_repr,
                          default_limit=AUDIT_DEFAULT_LIMIT)
