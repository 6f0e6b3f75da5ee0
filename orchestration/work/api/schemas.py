"""Response shapes of the projects/tasks/sessions API, for the OpenAPI document only: the
answers themselves are built by orchestration.representations."""

from __future__ import annotations

from rest_framework import serializers

from orchestration.work.models import Session, Task

MS = {"help_text": "epoch milliseconds"}


class ProjectOut(serializers.Serializer):
    id = serializers.CharField(help_text="proj_<ms>_<rand9>")
    name = serializers.CharField()
    workingDir = serializers.CharField()
    description = serializers.CharField()
    version = serializers.IntegerField(help_text="sent as ETag; If-Match with a stale one is 412")
    createdAt = serializers.IntegerField(**MS)
    updatedAt = serializers.IntegerField(**MS)


class SubtaskOut(serializers.Serializer):
    id = serializers.CharField()
    taskId = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    completed = serializers.BooleanField()
    order = serializers.IntegerField()
    createdAt = serializers.IntegerField(**MS)
    updatedAt = serializers.IntegerField(**MS)
    completedAt = serializers.IntegerField(allow_null=True, **MS)


class TimelineOut(serializers.Serializer):
    id = serializers.CharField(help_text="evt_<ms>_<rand9>")
    type = serializers.CharField()
    timestamp = serializers.IntegerField(**MS)
    message = serializers.CharField()
    sessionId = serializers.CharField(required=False)
    taskId = serializers.CharField(required=False)


class TaskOut(serializers.Serializer):
    id = serializers.CharField(help_text="task_<ms>_<rand9>")
    projectId = serializers.CharField()
    parentId = serializers.CharField(allow_null=True)
    title = serializers.CharField()
    description = serializers.CharField()
    initialPrompt = serializers.CharField()
    status = serializers.ChoiceField(choices=Task.Status.choices)
    priority = serializers.ChoiceField(choices=Task.Priority.choices)
    sessionIds = serializers.ListField(child=serializers.CharField())
    skillIds = serializers.ListField(child=serializers.CharField())
    agentIds = serializers.ListField(child=serializers.CharField())
    dependencies = serializers.ListField(child=serializers.CharField())
    subtasks = SubtaskOut(many=True)
    timeline = TimelineOut(many=True)
    createdAt = serializers.IntegerField(**MS)
    updatedAt = serializers.IntegerField(**MS)
    startedAt = serializers.IntegerField(allow_null=True, **MS)
    completedAt = serializers.IntegerField(allow_null=True, **MS)


class SessionEventOut(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    data = serializers.JSONField(allow_null=True)
    timestamp = serializers.IntegerField(**MS)


class SessionOut(serializers.Serializer):
    id = serializers.CharField(help_text="sess_<ms>_<rand9>")
    projectId = serializers.CharField()
    taskIds = serializers.ListField(child=serializers.CharField())
    name = serializers.CharField()
    agentId = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=Session.Status.choices)
    env = serializers.DictField(child=serializers.CharField())
    events = SessionEventOut(many=True)
    timeline = TimelineOut(many=True)
    metadata = serializers.DictField()
    hostname = serializers.CharField()
    platform = serializers.CharField()
    startedAt = serializers.IntegerField(**MS)
    lastActivity = serializers.IntegerField(**MS)
    completedAt = serializers.IntegerField(allow_null=True, **MS)


class SpawnOut(serializers.Serializer):
    success = serializers.BooleanField()
    sessionId = serializers.CharField()
    manifest = serializers.DictField(help_text="what an agent runner needs: tasks, skills, env, serverUrl")
    session = SessionOut()


class DeletedOut(serializers.Serializer):
    success = serializers.BooleanField()
    id = serializers.CharField()
