"""Agents, loops, merge trains (``/api/maestro/``); experiments and playbooks are in
:mod:`.views_experiments`."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.openapi import doc
from maestro.api.views import MaestroAPIView, with_etag
from maestro.core.exceptions import NotFound, error_body
from maestro.write_path.catalogue import Resource
from orchestration.control.api.base import ControlView
from orchestration.control.api.serializers import AgentUpdateIn, LoopToggleIn, LoopUpdateIn
from orchestration.control.representations import (
    AgentOut,
    LoopOut,
    MergeTrainOut,
    SuccessOut,
    agent_repr,
    agents_repr,
    loop_repr,
    merge_train_repr,
)
from orchestration.control.selectors.agents import agent_get, agent_list
from orchestration.control.selectors.loops import loop_get, loop_list
from orchestration.control.selectors.merge_trains import merge_train_default, merge_train_get
from orchestration.control.services.agents import agent_update
from orchestration.control.services.loops import loop_set_status, loop_update


class AgentListView(ControlView):
    resource_type = Resource.AGENT
    present = staticmethod(agent_repr)

    @doc(many=True, paged=True, response=AgentOut, op="maestro_agents_list")
    def get(self, request: Request) -> Response:
        return self.paged(request, agent_list(tenant=self.access.tenant), order=self.order, present_all=agents_repr,
                          filters=self.filters)


class AgentDetailView(ControlView):
    resource_type = Resource.AGENT
    present = staticmethod(agent_repr)

    @doc(response=AgentOut)
    def get(self, request: Request, agent_id: str) -> Response:
        return self.answer(agent_get(tenant=self.access.tenant, agent_id=agent_id))

    @doc(AgentUpdateIn, response=AgentOut)
    def patch(self, request: Request, agent_id: str) -> Response:
        changes, version = self.patch_input(AgentUpdateIn, agent_id)
        return self.answer(agent_update(tenant=self.access.tenant, actor=self.access.actor, agent_id=agent_id,
                                        changes=changes, expected_version=version))


class LoopListView(ControlView):
    resource_type = Resource.LOOP
    present = staticmethod(loop_repr)

    @doc(many=True, paged=True, response=LoopOut, op="maestro_autonomic_loops_list")
    def get(self, request: Request) -> Response:
        return self.listed(loop_list(tenant=self.access.tenant))


class LoopDetailView(ControlView):
    resource_type = Resource.LOOP
    present = staticmethod(loop_repr)

    @doc(response=LoopOut)
    def get(self, request: Request, loop_id: str) -> Response:
        return self.answer(loop_get(tenant=self.access.tenant, loop_id=loop_id))

    @doc(LoopUpdateIn, response=LoopOut)
    def patch(self, request: Request, loop_id: str) -> Response:
        changes, version = self.patch_input(LoopUpdateIn, loop_id)
        return self.answer(loop_update(tenant=self.access.tenant, actor=self.access.actor, loop_id=loop_id,
                                       changes=changes, expected_version=version))


class LoopToggleView(MaestroAPIView):
    """``{success: true}`` as the old API answered; an unknown loop is a 404 in the error
    envelope that also says ``success: false`` (the old API's answer for it)."""

    resource_type = Resource.LOOP

    @doc(LoopToggleIn, response=SuccessOut)
    def post(self, request: Request, loop_id: str) -> Response:
        data = self.validated(LoopToggleIn)
        version = self.expected_version(data)
        try:
            loop = loop_set_status(tenant=self.access.tenant, actor=self.access.actor, loop_id=loop_id,
                                   status=data["status"], expected_version=version)
        except NotFound as exc:
            return Response({**error_body(exc.code, exc.message, exc.details), "success": False}, status=404)
        return with_etag(Response({"success": True}), loop.version)


class MergeTrainView(ControlView):
    resource_type = Resource.MERGE_TRAIN
    present = staticmethod(merge_train_repr)

    @doc(response=MergeTrainOut, op="maestro_merge_trains_default")
    def get(self, request: Request) -> Response:
        return self.answer(merge_train_default(tenant=self.access.tenant))


class MergeTrainDetailView(ControlView):
    resource_type = Resource.MERGE_TRAIN
    present = staticmethod(merge_train_repr)

    @doc(response=MergeTrainOut)
    def get(self, request: Request, train_id: str) -> Response:
        return self.answer(merge_train_get(tenant=self.access.tenant, train_id=train_id))


