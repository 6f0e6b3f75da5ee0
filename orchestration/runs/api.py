"""``/api/maestro/runs``: the old ``runs`` rows, newest first (``limit``, ``offset``)."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.openapi import doc
from maestro.api.paging import parse_limit
from maestro.api.views import MaestroAPIView
from maestro.core.exceptions import ValidationFailed
from maestro.write_path.catalogue import Resource
from orchestration.runs.representations import run_repr
from orchestration.runs.selectors import run_get, run_list

RUNS_DEFAULT_LIMIT = 50  # the old /runs default


def parse_offset(raw: str | None) -> int:
    if raw in (None, ""):
        return 0
    if not raw.isdigit():
        raise ValidationFailed("offset must be a non-negative integer", details={"offset": raw})
    return int(raw)


class RunListView(MaestroAPIView):
    resource_type = Resource.RUN

    @doc(many=True, op="maestro_runs_list")
    def get(self, request: Request) -> Response:
        limit = parse_limit(request.query_params.get("limit"), default=RUNS_DEFAULT_LIMIT)
        offset = parse_offset(request.query_params.get("offset"))
        runs = run_list(tenant=self.access.tenant)[offset:offset + limit]
        return Response([run_repr(r) for r in runs])


class RunDetailView(MaestroAPIView):
    resource_type = Resource.RUN

    @doc()
    def get(self, request: Request, run_id: str) -> Response:
        return Response(run_repr(run_get(tenant=self.access.tenant, run_id=run_id)))
