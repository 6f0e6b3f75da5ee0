"""Experiments (DESIGN §7.3) and playbooks."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.openapi import doc
from maestro.api.views import MaestroAPIView
from maestro.core.exceptions import ValidationFailed
from maestro.write_path.catalogue import Resource
from orchestration.control.api.base import ControlView
from orchestration.control.api.serializers import (
    ExperimentActionIn,
    ExperimentCreateIn,
    ExperimentUpdateIn,
    ObservationIn,
    PlaybookCreateIn,
    PlaybookUpdateIn,
)
from orchestration.control.representations import (
    AssignmentOut,
    ExperimentOut,
    ObservedOut,
    PlaybookOut,
    ResultsOut,
    experiment_repr,
    playbook_repr,
)
from orchestration.control.selectors.experiments import (
    experiment_assignment,
    experiment_get,
    experiment_list,
    experiment_results,
)
from orchestration.control.selectors.playbooks import playbook_get, playbook_list
from orchestration.control.services.experiments import (
    experiment_create,
    experiment_observe,
    experiment_run,
    experiment_stop,
    experiment_update,
)
from orchestration.control.services.playbooks import playbook_create, playbook_update


class ExperimentListView(ControlView):
    resource_type = Resource.EXPERIMENT
    present = staticmethod(experiment_repr)

    @doc(many=True, paged=True, response=ExperimentOut, op="maestro_experiments_list")
    def get(self, request: Request) -> Response:
        return self.listed(experiment_list(tenant=self.access.tenant))

    @doc(ExperimentCreateIn, status=201, response=ExperimentOut)
    def post(self, request: Request) -> Response:
        data = self.validated(ExperimentCreateIn)
        experiment = experiment_create(tenant=self.access.tenant, actor=self.access.actor,
                                       experiment_id=data.pop("id", None), **data)
        return self.answer(experiment, status=status.HTTP_201_CREATED)


class ExperimentDetailView(ControlView):
    resource_type = Resource.EXPERIMENT
    present = staticmethod(experiment_repr)

    @doc(response=ExperimentOut)
    def get(self, request: Request, experiment_id: str) -> Response:
        return self.answer(experiment_get(tenant=self.access.tenant, experiment_id=experiment_id))

    @doc(ExperimentUpdateIn, response=ExperimentOut)
    def patch(self, request: Request, experiment_id: str) -> Response:
        changes, version = self.patch_input(ExperimentUpdateIn, experiment_id)
        return self.answer(experiment_update(tenant=self.access.tenant, actor=self.access.actor,
                                             experiment_id=experiment_id, changes=changes, expected_version=version))


class ExperimentRunView(ControlView):
    resource_type = Resource.EXPERIMENT
    present = staticmethod(experiment_repr)
    transition = staticmethod(experiment_run)

    @doc(ExperimentActionIn, response=ExperimentOut)
    def post(self, request: Request, experiment_id: str) -> Response:
        data = self.validated(ExperimentActionIn)
        return self.answer(self.transition(tenant=self.access.tenant, actor=self.access.actor,
                                           experiment_id=experiment_id,
                                           expected_version=self.expected_version(data)))


class ExperimentStopView(ExperimentRunView):
    transition = staticmethod(experiment_stop)


class ExperimentAssignmentView(MaestroAPIView):
    resource_type = Resource.EXPERIMENT

    @doc(response=AssignmentOut, parameters=[
        OpenApiParameter("entityId", {"type": "string", "minLength": 1, "maxLength": 200}, required=True)])
    def get(self, request: Request, experiment_id: str) -> Response:
        entity_id = request.query_params.get("entityId", "")
        if not entity_id or len(entity_id) > 200:
            raise ValidationFailed("entityId is required (1-200 characters)", details={"entityId": entity_id})
        experiment = experiment_get(tenant=self.access.tenant, experiment_id=experiment_id)
        return Response(experiment_assignment(experiment=experiment, entity_id=entity_id))


class ExperimentObservationsView(MaestroAPIView):
    resource_type = Resource.EXPERIMENT

    @doc(ObservationIn, status=201, response=ObservedOut)
    def post(self, request: Request, experiment_id: str) -> Response:
        data = self.validated(ObservationIn)
        experiment, met = experiment_observe(tenant=self.access.tenant, actor=self.access.actor,
                                             experiment_id=experiment_id, metrics=data["metrics"],
                                             variant=data.get("variant"), entity_id=data.get("entity_id", ""))
        observed: ObservedOut = {"recorded": len(data["metrics"]), "experiment": experiment_repr(experiment),
                                 "stopConditionsMet": met}
        return Response(observed, status=status.HTTP_201_CREATED)


class ExperimentResultsView(MaestroAPIView):
    resource_type = Resource.EXPERIMENT

    @doc(response=ResultsOut)
    def get(self, request: Request, experiment_id: str) -> Response:
        experiment = experiment_get(tenant=self.access.tenant, experiment_id=experiment_id)
        return Response(experiment_results(experiment=experiment))


class PlaybookListView(ControlView):
    resource_type = Resource.PLAYBOOK
    present = staticmethod(playbook_repr)

    @doc(many=True, paged=True, response=PlaybookOut, op="maestro_playbooks_list")
    def get(self, request: Request) -> Response:
        return self.listed(playbook_list(tenant=self.access.tenant))

    @doc(PlaybookCreateIn, status=201, response=PlaybookOut)
    def post(self, request: Request) -> Response:
        data = self.validated(PlaybookCreateIn)
        playbook = playbook_create(tenant=self.access.tenant, actor=self.access.actor,
                                   playbook_id=data.pop("id", None), **data)
        return self.answer(playbook, status=status.HTTP_201_CREATED)


class PlaybookDetailView(ControlView):
    resource_type = Resource.PLAYBOOK
    present = staticmethod(playbook_repr)

    @doc(response=PlaybookOut)
    def get(self, request: Request, playbook_id: str) -> Response:
        return self.answer(playbook_get(tenant=self.access.tenant, playbook_id=playbook_id))

    @doc(PlaybookUpdateIn, response=PlaybookOut)
    def patch(self, request: Request, playbook_id: str) -> Response:
        changes, version = self.patch_input(PlaybookUpdateIn, playbook_id)
        return self.answer(playbook_update(tenant=self.access.tenant, actor=self.access.actor,
                                           playbook_id=playbook_id, changes=changes, expected_version=version))
