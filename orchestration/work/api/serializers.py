"""Input validation for the projects/tasks/sessions API (the old "Maestro Server"). Output
shapes live in orchestration.work.representations.

Unknown keys are refused with the field named. Every key the old clients send stays accepted
(agent-maestro at 26aaeb8: its CLI, agents UI and server tests): fields the old server used
are declared and validated; server-owned values they echo back (``createdAt``, ``startedAt``,
``completedAt``, ``id`` of a timeline entry, …) and the UI's ``model`` are in ``ignored``."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from maestro.api.fields import (
    JSONObjectField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerField,
    StrictJSONField,
    StringListField,
    StringMapField,
)
from maestro.api.serializers import StrictSerializer, VersionMixin
from orchestration.work.models import Session, Task, TaskTimelineEvent


def id_field(**kwargs: Any) -> StrictCharField:
    """An id of the old system's shape (``task_<ms>_<rand9>``): at most 40 characters."""
    return StrictCharField(max_length=40, allow_blank=False, **kwargs)
URL_SAFE_ID = RegexValidator(r"^[A-Za-z0-9_.:-]+$", "id may hold only letters, digits and _.:-")


class StatusAliasField(StrictChoiceField):
    """Task status; the old clients' ``todo`` means ``pending``."""

    def to_internal_value(self, data: Any) -> Any:
        if data == "todo":
            data = Task.Status.PENDING
        return super().to_internal_value(data)


class ItemsOf(serializers.ListField):
    """A list of objects, each validated in full by ``serializer`` — even inside a PATCH, where
    DRF would apply the root's ``partial`` to a nested serializer and skip its required fields."""

    def __init__(self, serializer: type[serializers.Serializer[Any]], **kwargs: Any) -> None:
        self.item_serializer = serializer
        kwargs.setdefault("max_length", 1000)
        super().__init__(child=serializers.JSONField(), **kwargs)

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        items = super().to_internal_value(data)
        validated: list[dict[str, Any]] = []
        errors: dict[str, Any] = {}
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                errors[str(index)] = ["Expected a JSON object."]
                continue
            serializer = self.item_serializer(data=item)
            if serializer.is_valid():
                validated.append(dict(serializer.validated_data))
            else:
                errors[str(index)] = serializer.errors
        if errors:
            raise serializers.ValidationError(errors)
        return validated


class ProjectCreateIn(StrictSerializer):
    # The agents UI re-creates its local projects with their own timestamps.
    ignored = ("id", "createdAt", "updatedAt", "version")
    name = StrictCharField(max_length=500, allow_blank=False, trim_whitespace=True,
                           error_messages={"required": "name is required", "blank": "name is required"})
    workingDir = StrictCharField(max_length=2000, allow_blank=True, required=False, default="", source="working_dir")
    description = StrictCharField(allow_blank=True, required=False, default="", max_length=100_000)


class ProjectUpdateIn(ProjectCreateIn):
    pass

# Session-reported status of a task (DESIGN §4.1 "task sessionStatus"; the old CLI's `report`).
SESSION_STATUSES = ["queued", "working", "needs_input", "blocked", "completed", "failed", "skipped"]
SPAWN_STRATEGIES = ["simple", "queue", "tree"]


class TimelineItemIn(StrictSerializer):
    ignored = ("id", "timestamp")
    type = StrictChoiceField(choices=TaskTimelineEvent.Type.choices, required=False, default="update")
    message = StrictCharField(allow_blank=False, max_length=100_000)
    sessionId = id_field(required=False, allow_null=True)


class TaskCreateIn(StrictSerializer):
    ignored = ("model",)  # the agents UI's model choice, kept with the session it spawns
    projectId = id_field(error_messages={"required": "projectId is required"})
    title = StrictCharField(max_length=1000, allow_blank=False, trim_whitespace=True,
                            error_messages={"required": "title is required", "blank": "title is required"})
    parentId = id_field(required=False, allow_null=True)
    description = StrictCharField(allow_blank=True, required=False, default="", max_length=100_000)
    priority = StrictChoiceField(choices=Task.Priority.choices, required=False, default=Task.Priority.MEDIUM)
    status = StatusAliasField(choices=Task.Status.choices, required=False, default=Task.Status.PENDING)
    initialPrompt = StrictCharField(allow_blank=True, required=False, default="", max_length=200_000)
    skillIds = StringListField(required=False, default=list)
    agentIds = StringListField(required=False, default=list)
    dependencies = StringListField(required=False, default=list)


class TaskUpdateIn(StrictSerializer, VersionMixin):
    ignored = ("id", "projectId", "parentId", "createdAt", "updatedAt", "startedAt", "completedAt", "sessionIds",
               "subtasks", "model")
    title = StrictCharField(max_length=1000, allow_blank=False, trim_whitespace=True, required=False)
    description = StrictCharField(allow_blank=True, required=False, max_length=100_000)
    status = StatusAliasField(choices=Task.Status.choices, required=False)
    priority = StrictChoiceField(choices=Task.Priority.choices, required=False)
    initialPrompt = StrictCharField(allow_blank=True, required=False, max_length=200_000, source="initial_prompt")
    skillIds = StringListField(required=False, source="skill_ids")
    agentIds = StringListField(required=False, source="agent_ids")
    dependencies = StringListField(required=False)
    timeline = ItemsOf(TimelineItemIn, required=False)
    # What a working session reports (the old CLI's `worker init` and `report --task`).
    sessionStatus = StrictChoiceField(choices=SESSION_STATUSES, required=False, source="session_status")
    updateSource = StrictChoiceField(choices=["user", "session"], required=False, source="update_source")
    sessionId = StrictCharField(required=False, allow_null=True, max_length=200, source="session_id")


class TaskTimelineIn(TimelineItemIn):
    pass


class SubtaskCreateIn(StrictSerializer):
    ignored = ("id", "taskId", "createdAt", "updatedAt", "completedAt")
    title = StrictCharField(max_length=1000, allow_blank=False, trim_whitespace=True,
                            error_messages={"required": "title is required", "blank": "title is required"})
    description = StrictCharField(allow_blank=True, required=False, default="", max_length=100_000)
    completed = StrictBooleanField(required=False, default=False)
    order = StrictIntegerField(required=False, min_value=0, max_value=1_000_000)


class SubtaskUpdateIn(StrictSerializer):
    ignored = SubtaskCreateIn.ignored
    title = StrictCharField(max_length=1000, allow_blank=False, trim_whitespace=True, required=False)
    description = StrictCharField(allow_blank=True, required=False, max_length=100_000)
    completed = StrictBooleanField(required=False)
    order = StrictIntegerField(required=False, min_value=0, max_value=1_000_000)


class SessionEventIn(StrictSerializer):
    ignored = ("id", "timestamp")
    type = StrictCharField(max_length=100, allow_blank=False, error_messages={"required": "type is required"})
    # The old API's field name; it shadows Serializer.data only as a class attribute.
    data = StrictJSONField(required=False, allow_null=True, default=None)  # type: ignore[assignment]


class SessionTimelineIn(StrictSerializer):
    ignored = ("id", "timestamp")
    type = StrictCharField(max_length=32, allow_blank=False, required=False, default="progress")
    message = StrictCharField(allow_blank=False, max_length=100_000, error_messages={"required": "message is required"})
    taskId = id_field(required=False, allow_null=True)
    metadata = JSONObjectField(required=False, allow_null=True)


class SessionCreateIn(StrictSerializer):
    require_any = ("taskIds", "taskId")  # validate() refuses a session of no task
    projectId = id_field(error_messages={"required": "projectId is required"})
    taskIds = StringListField(required=False, max_length=500)
    taskId = id_field(required=False)  # legacy single-task form
    # Client-chosen ids (the old clients send their own sess_…) must stay usable in a URL path.
    id = StrictCharField(required=False, max_length=40, allow_blank=False,
                         validators=[URL_SAFE_ID])
    name = StrictCharField(required=False, max_length=500, allow_blank=False)
    agentId = StrictCharField(required=False, allow_null=True, max_length=200)
    status = StrictChoiceField(choices=Session.Status.choices, required=False, default=Session.Status.RUNNING)
    env = StringMapField(required=False, default=dict)
    metadata = JSONObjectField(required=False, default=dict)
    hostname = StrictCharField(required=False, allow_blank=True, default="", max_length=255)
    platform = StrictCharField(required=False, allow_blank=True, default="", max_length=64)
    strategy = StrictChoiceField(choices=SPAWN_STRATEGIES, required=False)  # the old CLI's `session register`

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        task_ids = list(attrs.get("taskIds") or [])
        if attrs.get("taskId"):
            task_ids.append(attrs["taskId"])
        if "taskIds" not in attrs and "taskId" not in attrs:
            raise serializers.ValidationError({"taskIds": "taskIds is required"})
        attrs["taskIds"] = list(dict.fromkeys(task_ids))
        return attrs


class SessionUpdateIn(StrictSerializer, VersionMixin):
    # completedAt: the old CLI and UI send it with an ending status; the server sets it then.
    ignored = ("id", "projectId", "startedAt", "lastActivity", "completedAt")
    taskIds = StringListField(required=False, max_length=500)
    name = StrictCharField(required=False, max_length=500, allow_blank=False)
    status = StrictChoiceField(choices=Session.Status.choices, required=False)
    agentId = StrictCharField(required=False, allow_null=True, max_length=200, source="agent_id")
    env = StringMapField(required=False)
    metadata = JSONObjectField(required=False)
    hostname = StrictCharField(required=False, allow_blank=True, max_length=255)
    platform = StrictCharField(required=False, allow_blank=True, max_length=64)
    events = ItemsOf(SessionEventIn, required=False)
    timeline = ItemsOf(SessionTimelineIn, required=False)


class SpawnIn(StrictSerializer):
    # The view checks these two, answering the old codes missing_project_id and invalid_task_ids.
    view_checked = {"projectId": {"type": "string", "minLength": 1},
                    "taskIds": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1,
                                                                          "maxLength": 40}}}
    projectId = StrictJSONField(required=False)
    taskIds = StrictJSONField(required=False)
    role = StrictChoiceField(choices=[("worker", "worker"), ("orchestrator", "orchestrator")], required=False,
                             default="worker")
    skills = StringListField(required=False)
    model = StrictCharField(required=False, allow_null=True, max_length=200)
    sessionName = StrictCharField(required=False, allow_null=True, max_length=500)
    spawnSource = StrictCharField(required=False, allow_null=True, max_length=200)
    spawnedBy = StrictCharField(required=False, allow_null=True, max_length=200)
    context = JSONObjectField(required=False, allow_null=True)  # type: ignore[assignment]  # the old field name
    # The old CLI names the spawning session `sessionId`; the agents UI sends a strategy.
    sessionId = StrictCharField(required=False, allow_null=True, max_length=200)
    spawnReason = StrictCharField(required=False, allow_null=True, max_length=2000)
    strategy = StrictChoiceField(choices=SPAWN_STRATEGIES, required=False)


class QueueFailIn(StrictSerializer):
    reason = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=10_000)


class QueuePushIn(StrictSerializer):
    taskId = id_field(error_messages={"required": "taskId is required", "blank": "taskId is required"})
