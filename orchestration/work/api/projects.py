from __future__ import annotations

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.openapi import doc
from maestro.api.paging import CREATED
from maestro.api.views import MaestroAPIView, if_match_version
from maestro.write_path.catalogue import Resource
from orchestration.work.api.serializers import ProjectCreateIn, ProjectUpdateIn
from orchestration.work.representations import DeletedOut, ProjectOut, project_repr
from orchestration.work.selectors.projects import project_get, project_list
from orchestration.work.services.projects import project_create, project_delete, project_update


class ProjectView(MaestroAPIView):
    resource_type = Resource.PROJECT
    present = staticmethod(project_repr)
    order = CREATED


class ProjectListView(ProjectView):
    @doc(many=True, paged=True, response=ProjectOut, op="projects_list")
    def get(self, request: Request) -> Response:
        return self.listed(project_list(tenant=self.access.tenant))

    @doc(ProjectCreateIn, status=201, response=ProjectOut, op="projects_create")
    def post(self, request: Request) -> Response:
        data = self.validated(ProjectCreateIn)
        project = project_create(tenant=self.access.tenant, actor=self.access.actor, **data)
        return self.answer(project, status=status.HTTP_201_CREATED)


class ProjectDetailView(ProjectView):
    read_one = staticmethod(project_get)

    @doc(response=ProjectOut, op="projects_get")
    def get(self, request: Request, project_id: str) -> Response:
        return self.answer(project_get(tenant=self.access.tenant, project_id=project_id))

    @doc(ProjectUpdateIn, response=ProjectOut, op="projects_update")
    def patch(self, request: Request, project_id: str) -> Response:
        data = self.validated(ProjectUpdateIn, partial=True)
        return self.answer(project_update(tenant=self.access.tenant, project_id=project_id, actor=self.access.actor,
                                          changes=data, expected_version=if_match_version(request)))

    @doc(ProjectUpdateIn, response=ProjectOut, op="projects_replace")
    def put(self, request: Request, project_id: str) -> Response:
        """PUT: the old server treated PUT as a partial update too."""
        return self.patch(request, project_id)

    @doc(response=DeletedOut, op="projects_delete")
    def delete(self, request: Request, project_id: str) -> Response:
        project_delete(tenant=self.access.tenant, project_id=project_id, actor=self.access.actor,
                       expected_version=if_match_version(request))
        return Response({"success": True, "id": project_id})
