"""``/api/maestro/dashboard``, ``health`` and ``slo``: measured, never constant (DESIGN §4.2)."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.openapi import doc
from maestro.api.views import MaestroAPIView
from orchestration.health.selectors import (
    DashboardOut,
    HealthOut,
    SloOut,
    dashboard,
    health_snapshot,
    slo_snapshot,
)


class DashboardView(MaestroAPIView):

    @doc(response=DashboardOut)
    def get(self, request: Request) -> Response:
        return Response(dashboard(tenant=self.access.tenant))


class HealthView(MaestroAPIView):

    @doc(response=HealthOut)
    def get(self, request: Request) -> Response:
        return Response(health_snapshot(tenant=self.access.tenant))


class SLOView(MaestroAPIView):

    @doc(many=True, response=SloOut)
    def get(self, request: Request) -> Response:
        return Response(slo_snapshot(tenant=self.access.tenant))
