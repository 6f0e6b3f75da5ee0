from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api import MaestroAPIView
from maestro.exceptions import ValidationFailed
from maestro.pagination import parse_limit
from realtime.selectors import events_after


class EventListView(MaestroAPIView):
    """REST twin of the WebSocket resume: ``GET /api/events?afterSeq=N&limit=``."""

    resource_type = "event"

    def get(self, request: Request) -> Response:
        raw = request.query_params.get("afterSeq", "0")
        try:
            after = int(raw)
        except ValueError:
            raise ValidationFailed("afterSeq must be an integer", details={"afterSeq": raw}) from None
        if after < 0:
            raise ValidationFailed("afterSeq must be >= 0", details={"afterSeq": after})
        limit = parse_limit(request.query_params.get("limit"))
        page = events_after(tenant_id=self.access.tenant.pk, after_seq=after, limit=limit)
        if page.resync_required:
            return Response({"error": True, "code": "RESYNC_REQUIRED",
                             "message": "Events after this seq were pruned; reload state and resume from head",
                             "details": {"head": page.head}}, status=410)
        response = Response([e.envelope() for e in page.events])
        response["X-Maestro-Event-Head"] = str(page.head)
        return response
