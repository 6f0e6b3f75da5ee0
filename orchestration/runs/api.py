"""``/api/maestro/runs``: the old ``runs`` rows, newest first (``limit`` and the old ``offset``,
or the cursor of the ``Link`` header)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.openapi import doc
from maestro.api.paging import MAX_OFFSET, Order
from maestro.api.views import MaestroAPIView
from maestro.write_path.catalogue import Resource
from orchestration.runs.representations import RunOut, run_repr
from orchestration.runs.selectors import run_get, run_list

RUNS_DEFAULT_LIMIT = 50  # the old /runs default
ORDER = Order.of("-created_at", "-id")  # newest first, as the old runsRepo.list


class RunListView(MaestroAPIView):
    resource_type = Resource.RUN

    @doc(many=True, paged=True, response=RunOut, op="maestro_runs_list",
         parameters=[OpenApiParameter("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                                      description="rows to skip (the old API's paging)")])
    def get(self, request: Request) -> Response:
        return self.paged(request, run_list(tenant=self.access.tenant), order=ORDER, present=run_repr,
                          default_limit=RUNS_DEFAULT_LIMIT, offset=True)


class RunDetailView(MaestroAPIView):
    resource_type = Resource.RUN

    @doc(response=RunOut)
    def get(self, request: Request, run_id: str) -> Response:
        return Response(run_repr(run_get(tenant=self.access.tenant, run_id=run_id)))
