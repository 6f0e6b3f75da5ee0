"""Dashboard, health, SLOs, runs, agents, loops, merge trains, audit log."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api import MaestroAPIView, if_match_version, with_etag
from maestro.exceptions import NotFound, ValidationFailed, error_body
from maestro.pagination import next_link, parse_limit
from orchestration.api.maestro.serializers import AgentUpdateIn, LoopToggleIn, LoopUpdateIn
from orchestration.representations_control import agent_repr, loop_repr, merge_train_repr, run_repr
from orchestration.selectors.agents import agent_get, agent_list
from orchestration.selectors.audit import audit_log
from orchestration.selectors.health import dashboard, health_snapshot, slo_snapshot
from orchestration.selectors.loops import loop_get, loop_list
from orchestration.selectors.merge_trains import merge_train_default, merge_train_get
from orchestration.selectors.runs import run_get, run_list
from orchestration.services.agents import agent_update
from orchestration.services.loops import loop_set_status, loop_update


def doc(request: Any = None, *, status: int = 200, many: bool = False, op: str | None = None) -> Any:
    """OpenAPI: the body serializer and a JSON object (or array) answer; the shapes themselves
    are the old system's, documented in orchestration.representations_control."""
    body = {"type": "array", "items": {"type": "object"}} if many else OpenApiTypes.OBJECT
    return extend_schema(request=request, responses={status: body}, operation_id=op)


RUNS_DEFAULT_LIMIT = 50  # the old /runs default
AUDIT_DEFAULT_LIMIT = 100


def expected_version(request: Request, data: dict[str, Any]) -> int | None:
    """If-Match wins; otherwise a ``version`` in the body (old clients cannot set headers)."""
    header = if_match_version(request)
    body = data.pop("version", None)
    return header if header is not None else body


def parse_offset(raw: str | None) -> int:
    if raw in (None, ""):
        return 0
    if not raw.isdigit():
        raise ValidationFailed("offset must be a non-negative integer", details={"offset": raw})
    return int(raw)


class DashboardView(MaestroAPIView):
    resource_type = "dashboard"

    @doc()
    def get(self, request: Request) -> Response:
        return Response(dashboard(tenant=self.access.tenant))


class HealthView(MaestroAPIView):
    resource_type = "health"

    @doc()
    def get(self, request: Request) -> Response:
        return Response(health_snapshot(tenant=self.access.tenant))


class SLOView(MaestroAPIView):
    resource_type = "slo"

    @doc(many=True)
    def get(self, request: Request) -> Response:
        return Response(slo_snapshot(tenant=self.access.tenant))


class RunListView(MaestroAPIView):
    resource_type = "run"

    @doc(many=True, op="maestro_runs_list")
    def get(self, request: Request) -> Response:
        limit = parse_limit(request.query_params.get("limit"), default=RUNS_DEFAULT_LIMIT)
        offset = parse_offset(request.query_params.get("offset"))
        runs = run_list(tenant=self.access.tenant)[offset:offset + limit]
        return Response([run_repr(r) for r in runs])


class RunDetailView(MaestroAPIView):
    resource_type = "run"

    @doc()
    def get(self, request: Request, run_id: str) -> Response:
        return Response(run_repr(run_get(tenant=self.access.tenant, run_id=run_id)))


class AgentListView(MaestroAPIView):
    resource_type = "agent"

    @doc(many=True, op="maestro_agents_list")
    def get(self, request: Request) -> Response:
        return self.paged(request, agent_list(tenant=self.access.tenant), time_field="created_at", present=agent_repr)


class AgentDetailView(MaestroAPIView):
    resource_type = "agent"

    @doc()
    def get(self, request: Request, agent_id: str) -> Response:
        agent = agent_get(tenant=self.access.tenant, agent_id=agent_id)
        return with_etag(Response(agent_repr(agent)), agent.version)

    @doc(AgentUpdateIn)
    def patch(self, request: Request, agent_id: str) -> Response:
        data = self.validated(AgentUpdateIn, partial=True)
        version = expected_version(request, data)
        _same_id(request, agent_id)
        changes = {**data.pop("metrics", {}), **data}
        if not changes:
            raise ValidationFailed("Nothing to update")
        agent = agent_update(tenant=self.access.tenant, actor=self.access.actor, agent_id=agent_id, changes=changes,
                             expected_version=version)
        return with_etag(Response(agent_repr(agent)), agent.version)


class LoopListView(MaestroAPIView):
    resource_type = "loop"

    @doc(many=True, op="maestro_autonomic_loops_list")
    def get(self, request: Request) -> Response:
        return self.paged(request, loop_list(tenant=self.access.tenant), time_field="created_at", present=loop_repr)


class LoopDetailView(MaestroAPIView):
    resource_type = "loop"

    @doc()
    def get(self, request: Request, loop_id: str) -> Response:
        loop = loop_get(tenant=self.access.tenant, loop_id=loop_id)
        return with_etag(Response(loop_repr(loop)), loop.version)

    @doc(LoopUpdateIn)
    def patch(self, request: Request, loop_id: str) -> Response:
        data = self.validated(LoopUpdateIn, partial=True)
        version = expected_version(request, data)
        _same_id(request, loop_id)
        if not data:
            raise ValidationFailed("Nothing to update")
        loop = loop_update(tenant=self.access.tenant, actor=self.access.actor, loop_id=loop_id, changes=data,
                           expected_version=version)
        return with_etag(Response(loop_repr(loop)), loop.version)


class LoopToggleView(MaestroAPIView):
    """``{success: true}`` as the old API answered; an unknown loop is a 404 in the error
    envelope that also says ``success: false`` (the old API's answer for it)."""

    resource_type = "loop"

    @doc(LoopToggleIn)
    def post(self, request: Request, loop_id: str) -> Response:
        data = self.validated(LoopToggleIn)
        version = expected_version(request, data)
        try:
            loop = loop_set_status(tenant=self.access.tenant, actor=self.access.actor, loop_id=loop_id,
                                   status=data["status"], expected_version=version)
        except NotFound as exc:
            return Response({**error_body(exc.code, exc.message, exc.details), "success": False}, status=404)
        return with_etag(Response({"success": True}), loop.version)


class MergeTrainView(MaestroAPIView):
    resource_type = "merge_train"

    @doc(op="maestro_merge_trains_default")
    def get(self, request: Request) -> Response:
        train = merge_train_default(tenant=self.access.tenant)
        return with_etag(Response(merge_train_repr(train)), train.version)


class MergeTrainDetailView(MaestroAPIView):
    resource_type = "merge_train"

    @doc()
    def get(self, request: Request, train_id: str) -> Response:
        train = merge_train_get(tenant=self.access.tenant, train_id=train_id)
        return with_etag(Response(merge_train_repr(train)), train.version)


class AuditLogView(MaestroAPIView):
    resource_type = "audit"

    @doc(many=True)
    def get(self, request: Request) -> Response:
        page = audit_log(tenant=self.access.tenant,
                         limit=parse_limit(request.query_params.get("limit"), default=AUDIT_DEFAULT_LIMIT),
                         cursor=request.query_params.get("cursor"))
        response = Response([row.to_api() for row in page.items])
        if page.next_cursor:
            response["Link"] = next_link(request, page.next_cursor)
        return response


def _same_id(request: Request, url_id: str) -> None:
    body_id = request.data.get("id") if isinstance(request.data, dict) else None
    if body_id is not None and body_id != url_id:
        raise ValidationFailed("id cannot be changed", details={"id": body_id, "expected": url_id})
