from __future__ import annotations

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.openapi import doc
from maestro.api.paging import CREATED
from maestro.api.views import MaestroAPIView, if_match_version
from maestro.write_path.catalogue import Resource
from orchestration.work.api.filters import TaskFilter
from orchestration.work.api.serializers import (
    SubtaskCreateIn,
    SubtaskUpdateIn,
    TaskCreateIn,
    TaskTimelineIn,
    TaskUpdateIn,
)
from orchestration.work.representations import DeletedOut, SubtaskOut, TaskOut, subtask_repr, task_repr
from orchestration.work.selectors.projects import project_get
from orchestration.work.selectors.tasks import task_get, task_list
from orchestration.work.services import tasks as services


class TaskView(MaestroAPIView):
    resource_type = Resource.TASK
    present = staticmethod(task_repr)
    order = CREATED

    def answer_task(self, task_id: str, *, status: int = 200) -> Response:
        """The task as stored now, read back with everything its representation shows."""
        return self.answer(task_get(tenant=self.access.tenant, task_id=task_id), status=status)


class TaskListView(TaskView):
    filters = TaskFilter

    @doc(many=True, paged=True, response=TaskOut, op="tasks_list", filters=TaskFilter)
    def get(self, request: Request) -> Response:
        return self.listed(task_list(tenant=self.access.tenant))

    @doc(TaskCreateIn, status=201, response=TaskOut, op="tasks_create")
    def post(self, request: Request) -> Response:
        data = self.validated(TaskCreateIn)
        project = project_get(tenant=self.access.tenant, project_id=data["projectId"])
        task = services.task_create(
            tenant=self.access.tenant, actor=self.access.actor, project=project, title=data["title"],
            parent_id=data.get("parentId"), description=data["description"], priority=data["priority"],
            initial_prompt=data["initialPrompt"], skill_ids=data["skillIds"], agent_ids=data["agentIds"],
            dependencies=data["dependencies"], status=data["status"],
        )
        return self.answer_task(task.id, status=status.HTTP_201_CREATED)


class TaskDetailView(TaskView):
    read_one = staticmethod(task_get)

    @doc(response=TaskOut, op="tasks_get")
    def get(self, request: Request, task_id: str) -> Response:
        return self.answer_task(task_id)

    @doc(TaskUpdateIn, response=TaskOut, op="tasks_update")
    def patch(self, request: Request, task_id: str) -> Response:
        data = self.validated(TaskUpdateIn, partial=True)
        version = self.expected_version(data)
        timeline = data.pop("timeline", None)
        task = services.task_update(tenant=self.access.tenant, task_id=task_id, actor=self.access.actor,
                                    changes=data, timeline=timeline, expected_version=version)
        return self.answer_task(task.id)

    @doc(TaskUpdateIn, response=TaskOut, op="tasks_replace")
    def put(self, request: Request, task_id: str) -> Response:
        """PUT: the old server treated PUT as a partial update."""
        return self.patch(request, task_id)

    @doc(response=DeletedOut, op="tasks_delete")
    def delete(self, request: Request, task_id: str) -> Response:
        services.task_delete(tenant=self.access.tenant, task_id=task_id, actor=self.access.actor,
                             expected_version=if_match_version(request))
        return Response({"success": True, "id": task_id})


class TaskChildrenView(TaskView):
    @doc(many=True, paged=True, response=TaskOut, op="tasks_children")
    def get(self, request: Request, task_id: str) -> Response:
        task_get(tenant=self.access.tenant, task_id=task_id)
        return self.listed(task_list(tenant=self.access.tenant, parent_id=task_id))


class TaskTimelineView(TaskView):
    @doc(TaskTimelineIn, response=TaskOut, op="tasks_timeline_add")
    def post(self, request: Request, task_id: str) -> Response:
        data = self.validated(TaskTimelineIn)
        task = services.task_timeline_add(tenant=self.access.tenant, task_id=task_id, actor=self.access.actor,
                                          type=data["type"], message=data["message"], session_id=data.get("sessionId"))
        return self.answer_task(task.id)


class SubtaskView(MaestroAPIView):
    resource_type = Resource.SUBTASK
    present = staticmethod(subtask_repr)


class SubtaskListView(SubtaskView):
    @doc(SubtaskCreateIn, status=201, response=SubtaskOut, op="subtasks_create")
    def post(self, request: Request, task_id: str) -> Response:
        data = self.validated(SubtaskCreateIn)
        subtask = services.subtask_create(tenant=self.access.tenant, task_id=task_id, actor=self.access.actor, **data)
        return self.answer(subtask, status=status.HTTP_201_CREATED)


class SubtaskDetailView(SubtaskView):
    @doc(SubtaskUpdateIn, response=SubtaskOut, op="subtasks_update")
    def patch(self, request: Request, task_id: str, subtask_id: str) -> Response:
        data = self.validated(SubtaskUpdateIn, partial=True)
        subtask = services.subtask_update(tenant=self.access.tenant, task_id=task_id, subtask_id=subtask_id,
                                          actor=self.access.actor, changes=data)
        return self.answer(subtask)

    @doc(SubtaskUpdateIn, response=SubtaskOut, op="subtasks_replace")
    def put(self, request: Request, task_id: str, subtask_id: str) -> Response:
        """PUT: the old server treated PUT as a partial update."""
        return self.patch(request, task_id, subtask_id)

    @doc(response=DeletedOut, op="subtasks_delete")
    def delete(self, request: Request, task_id: str, subtask_id: str) -> Response:
        services.subtask_delete(tenant=self.access.tenant, task_id=task_id, subtask_id=subtask_id,
                                actor=self.access.actor)
        return Response({"success": True, "id": subtask_id})
