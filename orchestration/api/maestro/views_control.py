"""Dashboard, health, SLOs, runs, agents, loops, merge trains, audit log."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.paging import next_link, parse_limit
from maestro.api.views import MaestroAPIView, with_etag
from maestro.core.exceptions import NotFound, ValidationFailed, error_body
from orchestration.api.maestro.base import ControlView, doc, expected_version
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

RUNS_DEFAULT_LIMIT = 50  # the old /runs default
AUDIT_DEFAULT_LIMIT = 100


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


class AgentListView(ControlView):
    resource_type = "agent"
    present = staticmethod(agent_repr)

    @doc(many=True, op="maestro_agents_list")
    def get(self, request: Request) -> Response:
        return self.listed(agent_list(tenant=self.access.tenant))


class AgentDetailView(ControlView):
    resource_type = "agent"
    present = staticmethod(agent_repr)

    @doc()
    def get(self, request: Request, agent_id: str) -> Response:
        return self.answer(agent_get(tenant=self.access.tenant, agent_id=agent_id))

    @doc(AgentUpdateIn)
    def patch(self, request: Request, agent_id: str) -> Response:
        # The old body nests the numbers under ``metrics``; the service takes them flat.
        changes, version = self.patch_input(AgentUpdateIn, agent_id,
                                            flatten=lambda data: {**data.pop("metrics", {}), **data})
        return self.answer(agent_update(tenant=self.access.tenant, actor=self.access.actor, agent_id=agent_id,
                                        changes=changes, expected_version=version))


class LoopListView(ControlView):
    resource_type = "loop"
    present = staticmethod(loop_repr)

    @doc(many=True, op="maestro_autonomic_loops_list")
    def get(self, request: Request) -> Response:
        return self.listed(loop_list(tenant=self.access.tenant))


class LoopDetailView(ControlView):
    resource_type = "loop"
    present = staticmethod(loop_repr)

    @doc()
    def get(self, request: Request, loop_id: str) -> Response:
        return self.answer(loop_get(tenant=self.access.tenant, loop_id=loop_id))

    @doc(LoopUpdateIn)
    def patch(self, request: Request, loop_id: str) -> Response:
        changes, version = self.patch_input(LoopUpdateIn, loop_id)
        return self.answer(loop_update(tenant=self.access.tenant, actor=self.access.actor, loop_id=loop_id,
                                       changes=changes, expected_version=version))


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


class MergeTrainView(ControlView):
    resource_type = "merge_train"
    present = staticmethod(merge_train_repr)

    @doc(op="maestro_merge_trains_default")
    def get(self, request: Request) -> Response:
        return self.answer(merge_train_default(tenant=self.access.tenant))


class MergeTrainDetailView(ControlView):
    resource_type = "merge_train"
    present = staticmethod(merge_train_repr)

    @doc()
    def get(self, request: Request, train_id: str) -> Response:
        return self.answer(merge_train_get(tenant=self.access.tenant, train_id=train_id))


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

