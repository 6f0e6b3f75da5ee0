"""``/api/maestro/`` workflows, runs and the dead-letter queue (DESIGN §7.1). Thin: each handler
validates its body and calls one service."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.fields import JSONObjectField, StrictBooleanField, StrictCharField, StrictIntegerField
from maestro.api.idempotency import check_key
from maestro.api.openapi import doc
from maestro.api.paging import Order
from maestro.api.serializers import StrictSerializer
from maestro.api.views import MaestroAPIView
from maestro.core.exceptions import ValidationFailed
from maestro.core.roles import Role
from maestro.write_path.catalogue import Resource
from orchestration.engine import spec
from orchestration.engine.representations import (
    DeadLetterOut,
    GraphOut,
    RunWithStepsOut,
    TransitionOut,
    WorkflowOut,
    dead_letter_repr,
    graph_repr,
    run_with_steps_repr,
    transition_repr,
    workflow_repr,
)
from orchestration.engine.selectors import dead_letter_list, steps_of, timeline_of, workflow_get, workflow_list
from orchestration.engine.services import dead_letter_replay, playbook_start, run_cancel, run_start, workflow_create
from orchestration.runs.models import Run
from orchestration.runs.selectors import run_get

WORKFLOWS_ORDER = Order.of("name", "-version", "pk")
DLQ_ORDER = Order.of("-created_at", "-id")


class WorkflowIn(StrictSerializer):
    name = StrictCharField(max_length=200, allow_blank=False, trim_whitespace=True,
                           error_messages={"required": "name is required", "blank": "name is required"})
    spec = JSONObjectField(required=False, help_text="the spec as JSON: a JSON Schema (2020-12) document, "
                           "published at GET /api/maestro/workflows/schema, says what it may hold")
    specYaml = StrictCharField(required=False, allow_blank=False, max_length=512 * 1024, trim_whitespace=False,
                               help_text="the spec as YAML text (the same schema as spec)")
    isEnabled = StrictBooleanField(required=False, default=True)


class RunIn(StrictSerializer):
    workflow = StrictCharField(max_length=200, allow_blank=False,
                               error_messages={"required": "workflow is required"})
    version = StrictIntegerField(required=False, min_value=1)
    input = JSONObjectField(required=False)
    agent = StrictCharField(required=False, max_length=200, allow_blank=False)


class PlaybookRunIn(StrictSerializer):
    input = JSONObjectField(required=False)
    agent = StrictCharField(required=False, max_length=200, allow_blank=False)


def _key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    return None if key is None else check_key(key)


def _run_answer(run: Run, created: bool) -> Response:
    body = run_with_steps_repr(run, list(steps_of(run_id=run.id)))
    return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class WorkflowListView(MaestroAPIView):
    resource_type = Resource.WORKFLOW

    @doc(many=True, paged=True, response=WorkflowOut, op="maestro_workflows_list")
    def get(self, request: Request) -> Response:
        return self.paged(request, workflow_list(tenant=self.access.tenant), order=WORKFLOWS_ORDER,
                          present=workflow_repr)

    @doc(WorkflowIn, status=201, response=WorkflowOut)
    def post(self, request: Request) -> Response:
        data = self.validated(WorkflowIn)
        wf = workflow_create(tenant=self.access.tenant, actor=self.access.actor, name=data["name"],
                             spec_json=data.get("spec"), spec_yaml=data.get("specYaml"),
                             is_enabled=data["isEnabled"])
        return Response(workflow_repr(wf), status=status.HTTP_201_CREATED)


class WorkflowSchemaView(MaestroAPIView):
    resource_type = Resource.WORKFLOW

    @doc(response=OpenApiTypes.OBJECT, op="maestro_workflows_schema")
    def get(self, request: Request) -> Response:
        return Response(spec.schema())


MAX_VERSION = 2**31 - 1  # the column's range


class WorkflowDetailView(MaestroAPIView):
    resource_type = Resource.WORKFLOW

    @doc(response=WorkflowOut, parameters=[OpenApiParameter(
        "version", {"type": "integer", "minimum": 1, "maximum": MAX_VERSION}, description="that version")])
    def get(self, request: Request, name: str) -> Response:
        raw = request.query_params.get("version")
        version = None
        if raw is not None:
            if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_VERSION:
                raise ValidationFailed("version must be a positive integer", details={"version": raw})
            version = int(raw)
        return Response(workflow_repr(workflow_get(tenant=self.access.tenant, name=name, version=version)))


class RunStartMixin(MaestroAPIView):
    # The run itself remembers its Idempotency-Key (a repeat answers 200 with the first run).
    idempotency_by_service = True
    # Who may start a run is the policy's to say (policies/maestro/authz.rego: operator and
    # up, as before); the tenant's members reach it, and the safety loop's write guard still applies.
    write_role = Role.VIEWER


class RunStartView(RunStartMixin):
    resource_type = Resource.RUN

    @doc(RunIn, status=201, response=RunWithStepsOut, others={200: RunWithStepsOut})
    def post(self, request: Request) -> Response:
        key = _key(request)
        data = self.validated(RunIn)
        run, created = run_start(tenant=self.access.tenant, actor=self.access.actor, workflow=data["workflow"],
                                 version=data.get("version"), input=data.get("input"), idempotency_key=key,
                                 agent=data.get("agent"), role=self.access.role, via="api")
        return _run_answer(run, created)


class PlaybookRunView(RunStartMixin):
    resource_type = Resource.RUN

    @doc(PlaybookRunIn, status=201, response=RunWithStepsOut, others={200: RunWithStepsOut})
    def post(self, request: Request, playbook_id: str) -> Response:
        key = _key(request)
        data = self.validated(PlaybookRunIn, optional=True)
        run, created = playbook_start(tenant=self.access.tenant, actor=self.access.actor, playbook=playbook_id,
                                      input=data.get("input"), idempotency_key=key, agent=data.get("agent"),
                                      role=self.access.role, via="api")
        return _run_answer(run, created)


class RunView(MaestroAPIView):
    resource_type = Resource.RUN

    @doc(response=RunWithStepsOut)
    def get(self, request: Request, run_id: str) -> Response:
        run = run_get(tenant=self.access.tenant, run_id=run_id)
        return Response(run_with_steps_repr(run, list(steps_of(run_id=run.id))))


class RunGraphView(MaestroAPIView):
    resource_type = Resource.RUN

    @doc(response=GraphOut)
    def get(self, request: Request, run_id: str) -> Response:
        run = run_get(tenant=self.access.tenant, run_id=run_id)
        return Response(graph_repr(list(steps_of(run_id=run.id))))


class RunTimelineView(MaestroAPIView):
    resource_type = Resource.RUN

    @doc(many=True, response=TransitionOut)
    def get(self, request: Request, run_id: str) -> Response:
        run = run_get(tenant=self.access.tenant, run_id=run_id)
        return Response([transition_repr(t) for t in timeline_of(run_id=run.id)])


class RunCancelView(MaestroAPIView):
    resource_type = Resource.RUN

    @doc(response=RunWithStepsOut)
    def post(self, request: Request, run_id: str) -> Response:
        run = run_cancel(tenant=self.access.tenant, actor=self.access.actor, run_id=run_id)
        return Response(run_with_steps_repr(run, list(steps_of(run_id=run.id))))


class DeadLetterListView(MaestroAPIView):
    resource_type = Resource.DEAD_LETTER

    @doc(many=True, paged=True, response=DeadLetterOut, op="maestro_dlq_list")
    def get(self, request: Request) -> Response:
        return self.paged(request, dead_letter_list(tenant=self.access.tenant), order=DLQ_ORDER,
                          present=dead_letter_repr)


class DeadLetterReplayView(MaestroAPIView):
    resource_type = Resource.DEAD_LETTER

    @doc(response=DeadLetterOut)
    def post(self, request: Request, dead_letter_id: str) -> Response:
        letter = dead_letter_replay(tenant=self.access.tenant, actor=self.access.actor,
                                    dead_letter_id=dead_letter_id)
        return Response(dead_letter_repr(letter))
