from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.openapi import LIMIT, doc
from maestro.api.paging import next_link, parse_limit
from maestro.api.views import MaestroAPIView
from maestro.core.exceptions import ValidationFailed
from realtime.models import EventOut
from realtime.selectors import events_after, events_oldest_seq

NO_LONGER_KEPT = "Events after this seq are no longer kept; reload state and resume from head"
BEYOND_HEAD = "afterSeq is beyond this stream's head; reload state and resume from head"


class EventListView(MaestroAPIView):
    """REST twin of the WebSocket resume (the stream's own resume point, ``afterSeq``, is its
    cursor, DESIGN §5): ``GET /api/events?afterSeq=N&limit=`` → the
    envelopes with ``seq > N`` in order (a JSON array); ``X-Maestro-Event-Head`` carries the
    tenant's head; a full page links the next one. Events already pruned → 410
    ``RESYNC_REQUIRED``: reload state, then continue from the head it names."""

    @doc(many=True, response=EventOut, op="events_list", errors=(410,), parameters=[
        OpenApiParameter("afterSeq", {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
                         description="the last seq the client has (default 0)"), LIMIT])
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("afterSeq", "0")
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise ValidationFailed("afterSeq must be a non-negative integer", details={"afterSeq": raw})
        after = int(raw)
        limit = parse_limit(request.query_params.get("limit"))
        tenant_id = self.access.tenant.pk
        page = events_after(tenant_id=tenant_id, after_seq=after, limit=limit)
        if page.resync_required:
            return Response({"error": True, "code": "RESYNC_REQUIRED",
                             "message": BEYOND_HEAD if after > page.head else NO_LONGER_KEPT,
                             "details": {"afterSeq": after, "head": page.head,
                                         "oldestSeq": events_oldest_seq(tenant_id)}}, status=410)
        response = Response([e.envelope() for e in page.events])
        response["X-Maestro-Event-Head"] = str(page.head)
        if len(page.events) == limit and page.events[-1].seq < page.head:
            response["Link"] = next_link(request, afterSeq=page.events[-1].seq, limit=limit)
        return response
