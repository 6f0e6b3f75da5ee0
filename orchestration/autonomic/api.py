"""``/api/maestro/autonomic/loops/{id}/run`` (an operator ticks a loop now) and
``…/decisions`` (its decision history, newest first), DESIGN §7.2."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.openapi import doc
from maestro.api.paging import Order
from maestro.api.serializers import StrictSerializer
from maestro.api.views import MaestroAPIView
from maestro.write_path.catalogue import Resource
from orchestration.autonomic.selectors import decision_history
from orchestration.autonomic.services import loop_run_now
from orchestration.control.representations import DecisionOut, decision_repr

NEWEST_FIRST = Order.of("-created_at", "-id")
DECISIONS_DEFAULT_LIMIT = 50


class LoopRunIn(StrictSerializer):
    """No fields: the loop ticks with its stored config."""


class LoopRunView(MaestroAPIView):
    resource_type = Resource.LOOP

    @doc(LoopRunIn, response=DecisionOut)
    def post(self, request: Request, loop_id: str) -> Response:
        self.validated(LoopRunIn)
        row = loop_run_now(tenant=self.access.tenant, actor=self.access.actor, loop_id=loop_id)
        return Response(decision_repr(row, loop_id=loop_id))


class LoopDecisionsView(MaestroAPIView):
    resource_type = Resource.LOOP

    @doc(many=True, paged=True, response=DecisionOut, op="maestro_autonomic_loop_decisions")
    def get(self, request: Request, loop_id: str) -> Response:
        return self.paged(request, decision_history(tenant=self.access.tenant, loop_id=loop_id), order=NEWEST_FIRST,
                          present=lambda row: decision_repr(row, loop_id=loop_id),
                          default_limit=DECISIONS_DEFAULT_LIMIT)
