from __future__ import annotations

from django.conf import settings
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.openapi import doc
from maestro.api.paging import Order
from maestro.api.views import MaestroAPIView, if_match_version
from maestro.core.exceptions import Conflict, MaestroError, NotFound
from maestro.write_path.catalogue import Resource
from orchestration.work.api.filters import SessionFilter
from orchestration.work.api.serializers import (
    SessionCreateIn,
    SessionEventIn,
    SessionTimelineIn,
    SessionUpdateIn,
    SpawnIn,
)
from orchestration.work.manifest import session_manifest
from orchestration.work.representations import DeletedOut, ManifestOut, SessionOut, SpawnOut, session_repr
from orchestration.work.selectors.projects import project_get
from orchestration.work.selectors.sessions import session_get, session_list
from orchestration.work.selectors.tasks import tasks_in_order
from orchestration.work.services import sessions as services


class SessionView(MaestroAPIView):
    resource_type = Resource.SESSION
    present = staticmethod(session_repr)
    # The id is unique within the tenant, whose sessions are all a list holds.
    order = Order.of("started_at", "id")

    def answer_session(self, session_id: str, *, status: int = 200) -> Response:
        """The session as stored now, read back with everything its representation shows."""
        return self.answer(session_get(tenant=self.access.tenant, session_id=session_id), status=status)


class SessionListView(SessionView):
    filters = SessionFilter

    @doc(many=True, paged=True, response=SessionOut, op="sessions_list", filters=SessionFilter)
    def get(self, request: Request) -> Response:
        return self.listed(session_list(tenant=self.access.tenant))

    @doc(SessionCreateIn, status=201, response=SessionOut, op="sessions_create")
    def post(self, request: Request) -> Response:
        data = self.validated(SessionCreateIn)
        project = project_get(tenant=self.access.tenant, project_id=data["projectId"])
        session = services.session_create(
            tenant=self.access.tenant, actor=self.access.actor, project=project, task_ids=data["taskIds"],
            session_id=data.get("id"), name=data.get("name"), agent_id=data.get("agentId"), status=data["status"],
            env=data["env"], hostname=data["hostname"], platform=data["platform"],
            # The old server kept a session's strategy; it lives in the metadata here.
            metadata={**data["metadata"], **({"strategy": data["strategy"]} if "strategy" in data else {})},
        )
        return self.answer_session(session.id, status=status.HTTP_201_CREATED)


class SessionDetailView(SessionView):
    read_one = staticmethod(session_get)

    @doc(response=SessionOut, op="sessions_get")
    def get(self, request: Request, session_id: str) -> Response:
        return self.answer_session(session_id)

    @doc(SessionUpdateIn, response=SessionOut, op="sessions_update")
    def patch(self, request: Request, session_id: str) -> Response:
        data = self.validated(SessionUpdateIn, partial=True)
        version = self.expected_version(data)
        task_ids = data.pop("taskIds", None)
        events = data.pop("events", None)
        timeline = data.pop("timeline", None)
        services.session_update(tenant=self.access.tenant, session_id=session_id, actor=self.access.actor,
                                changes=data, task_ids=task_ids, events=events, timeline=timeline,
                                expected_version=version)
        return self.answer_session(session_id)

    @doc(SessionUpdateIn, response=SessionOut, op="sessions_replace")
    def put(self, request: Request, session_id: str) -> Response:
        """PUT: the old server treated PUT as a partial update."""
        return self.patch(request, session_id)

    @doc(response=DeletedOut, op="sessions_delete")
    def delete(self, request: Request, session_id: str) -> Response:
        services.session_delete(tenant=self.access.tenant, session_id=session_id, actor=self.access.actor,
                                expected_version=if_match_version(request))
        return Response({"success": True, "id": session_id})


class SessionEventsView(SessionView):
    @doc(SessionEventIn, response=SessionOut, op="sessions_event_add")
    def post(self, request: Request, session_id: str) -> Response:
        data = self.validated(SessionEventIn)
        services.session_event_add(tenant=self.access.tenant, session_id=session_id, actor=self.access.actor,
                                   type=data["type"], data=data.get("data"))
        return self.answer_session(session_id)


class SessionTimelineView(SessionView):
    @doc(SessionTimelineIn, response=SessionOut, op="sessions_timeline_add")
    def post(self, request: Request, session_id: str) -> Response:
        data = self.validated(SessionTimelineIn)
        services.session_timeline_add(tenant=self.access.tenant, session_id=session_id, actor=self.access.actor,
                                      type=data["type"], message=data["message"], task_id=data.get("taskId"),
                                      metadata=data.get("metadata"))
        return self.answer_session(session_id)


class SessionTaskView(SessionView):
    @doc(response=SessionOut, op="sessions_task_add")
    def post(self, request: Request, session_id: str, task_id: str) -> Response:
        services.session_task_add(tenant=self.access.tenant, session_id=session_id, task_id=task_id,
                                  actor=self.access.actor)
        return self.answer_session(session_id)

    @doc(response=SessionOut, op="sessions_task_remove")
    def delete(self, request: Request, session_id: str, task_id: str) -> Response:
        services.session_task_remove(tenant=self.access.tenant, session_id=session_id, task_id=task_id,
                                     actor=self.access.actor)
        return self.answer_session(session_id)


class SessionManifestView(SessionView):
    @doc(response=ManifestOut, op="sessions_manifest", errors=(409,))
    def get(self, request: Request, session_id: str) -> Response:
        """The manifest an agent runner starts this session from (the old CLI's `worker init`)."""
        tenant = self.access.tenant
        session = session_get(tenant=tenant, session_id=session_id)
        tasks = tasks_in_order(tenant=tenant, task_ids=[link.task_id for link in session.task_links.all()])
        if not tasks:
            raise Conflict(f"Session {session_id} has no tasks: a manifest names at least one")
        project = project_get(tenant=tenant, project_id=session.project_id)
        return Response(session_manifest(session=session, project=project, tasks=tasks,
                                         server_url=settings.MAESTRO_PUBLIC_URL))


def _spawn_error(code: str, message: str, status_code: int = 400, **details: object) -> MaestroError:
    # The spawn endpoint keeps the old lowercase codes its clients switch on.
    return MaestroError(message, code=code, status_code=status_code, details=dict(details))


class SessionSpawnView(SessionView):
    @doc(SpawnIn, status=201, response=SpawnOut, op="sessions_spawn")
    def post(self, request: Request) -> Response:
        data = self.validated(SpawnIn)
        project_id = data.get("projectId")
        if not project_id or not isinstance(project_id, str):
            raise _spawn_error("missing_project_id", "projectId is required")
        task_ids = data.get("taskIds")
        if (not isinstance(task_ids, list) or not task_ids
                or not all(isinstance(t, str) and t and len(t) <= 40 for t in task_ids)):
            raise _spawn_error("invalid_task_ids", "taskIds must be a non-empty array of task ids")
        try:
            project = project_get(tenant=self.access.tenant, project_id=project_id)
        except NotFound:
            raise _spawn_error("project_not_found", f"Project {project_id} not found", 404,
                               projectId=project_id) from None
        try:
            session, manifest = services.session_spawn(
                tenant=self.access.tenant, actor=self.access.actor, project=project, task_ids=task_ids,
                role=data["role"], skills=data.get("skills"), model=data.get("model"),
                session_name=data.get("sessionName"), spawn_source=data.get("spawnSource"),
                # The old CLI names the spawning session `sessionId` (DESIGN §4.1, spawn compatibility).
                spawned_by=data.get("spawnedBy") or data.get("sessionId"), context=data.get("context"),
                spawn_reason=data.get("spawnReason"), strategy=data.get("strategy"),
            )
        except MaestroError as exc:
            if exc.code == "TASK_NOT_FOUND":
                raise _spawn_error("task_not_found", "One or more tasks were not found", 404, **exc.details) from None
            if "taskIds" in exc.details:
                raise _spawn_error("invalid_task_ids", exc.message, **exc.details) from None
            raise
        session_data = self.present(session_get(tenant=self.access.tenant, session_id=session.id))
        return Response({"success": True, "sessionId": session.id, "manifest": manifest, "session": session_data},
                        status=status.HTTP_201_CREATED)
