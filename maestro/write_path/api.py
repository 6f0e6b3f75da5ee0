"""``/api/maestro/audit/log``: the tenant's audit rows, newest first; never capped by count,
only by retention (DESIGN §4.2)."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.openapi import doc
from maestro.api.paging import next_link, parse_limit
from maestro.api.views import MaestroAPIView
from maestro.write_path.representations import audit_repr
from maestro.write_path.selectors import audit_log

AUDIT_DEFAULT_LIMIT = 100


class AuditLogView(MaestroAPIView):

    @doc(many=True)
    def get(self, request: Request) -> Response:
        page = audit_log(tenant_id=self.access.tenant.pk,
                         limit=parse_limit(request.query_params.get("limit"), default=AUDIT_DEFAULT_LIMIT),
                         cursor=request.query_params.get("cursor"))
        response = Response([audit_repr(row) for row in page.items])
        if page.next_cursor:
            response["Link"] = next_link(request, page.next_cursor)
        return response
