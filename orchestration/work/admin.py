"""Admin for projects, tasks and sessions. Every save, inline save and delete calls the same
services as the API, so admin edits are audited, ledgered and broadcast."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from maestro.admin_base import ListField, PrettyJSONField, ServiceAdmin, actor_of, related_count
from orchestration.work.models import Project, Session, SessionTask, Subtask, Task, TaskTimelineEvent
from orchestration.work.services import projects as project_services
from orchestration.work.services import sessions as session_services
from orchestration.work.services import tasks as task_services

if TYPE_CHECKING:
    from django.contrib.admin.options import InlineModelAdmin, _FieldGroups


class TaskInline(admin.TabularInline[Task, Project]):
    model = Task
    fields = ("id", "title", "status", "priority", "created_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Project | None = None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(ServiceAdmin[Project]):
    kind = project_services.PROJECT
    service_id_arg = "project_id"
    service_fields = ("name", "working_dir", "description")
    identity_fields = ("id", "tenant")
    update_service = staticmethod(project_services.project_update)
    delete_service = staticmethod(project_services.project_delete)
    list_display = ("name", "id", "task_count", "session_count", "version", "updated_at", "tenant")
    list_filter = ("tenant",)
    date_hierarchy = "updated_at"
    search_fields = ("id", "name", "description", "working_dir")
    readonly_fields = ("id", "version", "created_at", "updated_at")
    inlines = [TaskInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Project]:
        return super().get_queryset(request).annotate(task_total=related_count(Task, "project"),
                                                      session_total=related_count(Session, "project"))

    @admin.display(description="tasks", ordering="task_total")
    def task_count(self, obj: Project) -> int:
        return cast(int, getattr(obj, "task_total", 0))

    @admin.display(description="sessions", ordering="session_total")
    def session_count(self, obj: Project) -> int:
        return cast(int, getattr(obj, "session_total", 0))

    def get_fields(self, request: HttpRequest, obj: Project | None = None) -> _FieldGroups:
        editable = ["name", "working_dir", "description"]
        return (["tenant", *editable] if obj is None else ["id", "tenant", *editable, "expected_version", "version",
                                                           "created_at", "updated_at"])

    def create(self, request: HttpRequest, obj: Project, form: forms.ModelForm[Project]) -> Project:
        data = form.cleaned_data
        return project_services.project_create(tenant=data["tenant"], actor=actor_of(request), name=data["name"],
                                               working_dir=data.get("working_dir", ""),
                                               description=data.get("description", ""))

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        self.saved_by_services(formset)  # the task inline is read-only


class SubtaskInline(admin.TabularInline[Subtask, Task]):
    model = Subtask
    fields = ("title", "description", "completed", "order", "completed_at")
    readonly_fields = ("completed_at",)
    extra = 0


class TimelineInline(admin.TabularInline[TaskTimelineEvent, Task]):
    model = TaskTimelineEvent
    fields = ("id", "type", "timestamp", "message", "session_id")
    readonly_fields = fields
    extra = 0
    can_delete = False  # the timeline is append-only history

    def has_add_permission(self, request: HttpRequest, obj: Task | None = None) -> bool:
        return False


TASK_EDITABLE = ("title", "description", "initial_prompt", "status", "priority", "skill_ids", "agent_ids",
                 "dependencies")


class TaskForm(forms.ModelForm[Task]):  # tasks carry no version (yet): nothing to guard
    skill_ids = ListField(label="Skill ids")
    agent_ids = ListField(label="Agent ids")
    dependencies = ListField(help_text="Ids of the tasks this one waits for: one per line, or separated "
                                                 "by commas.")

    class Meta:
        model = Task
        fields = ("project", "parent", *TASK_EDITABLE)


@admin.register(Task)
class TaskAdmin(ServiceAdmin[Task]):
    form = TaskForm
    kind = task_services.TASK
    service_id_arg = "task_id"
    service_fields = TASK_EDITABLE
    identity_fields = ("id", "tenant", "project", "parent")
    bookkeeping = ("created_at", "updated_at", "started_at", "completed_at")
    update_service = staticmethod(task_services.task_update)
    delete_service = staticmethod(task_services.task_delete)
    list_display = ("short_title", "project_name", "status", "priority", "subtasks", "version", "updated_at",
                    "tenant")
    list_filter = ("status", "priority", "tenant", "project")
    date_hierarchy = "updated_at"
    search_fields = ("id", "title", "description")
    list_select_related = ("project",)
    inlines = [SubtaskInline, TimelineInline]
    raw_id_fields = ("parent",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Task]:
        return super().get_queryset(request).annotate(
            subtask_total=related_count(Subtask, "task"), subtask_done=related_count(Subtask, "task", completed=True))

    @admin.display(description="title", ordering="title")
    def short_title(self, obj: Task) -> str:
        return Truncator(obj.title).chars(70)

    @admin.display(description="project", ordering="project__name")
    def project_name(self, obj: Task) -> str:
        return Truncator(obj.project.name).chars(40)

    @admin.display(description="subtasks done", ordering="subtask_total")
    def subtasks(self, obj: Task) -> str:
        total = cast(int, getattr(obj, "subtask_total", 0))
        return f"{getattr(obj, 'subtask_done', 0)}/{total}" if total else "—"

    def get_fields(self, request: HttpRequest, obj: Task | None = None) -> _FieldGroups:
        if obj is None:
            return ["project", "parent", *TASK_EDITABLE]
        return ["id", "tenant", "project", "parent", *TASK_EDITABLE, "created_at", "updated_at", "started_at",
                "completed_at"]

    def get_inline_instances(self, request: HttpRequest,
                             obj: Task | None = None) -> list[InlineModelAdmin[Any, Any]]:
        return super().get_inline_instances(request, obj) if obj is not None else []

    def update(self, request: HttpRequest, obj: Task, changes: dict[str, Any], expected_version: int | None) -> Task:
        return task_services.task_update(tenant=obj.tenant, task_id=obj.id, actor=actor_of(request), changes=changes)

    def create(self, request: HttpRequest, obj: Task, form: forms.ModelForm[Task]) -> Task:
        data = {f: form.cleaned_data[f] for f in TASK_EDITABLE if f in form.cleaned_data}
        project, parent = form.cleaned_data["project"], form.cleaned_data.get("parent")
        status = data.pop("status", Task.Status.PENDING)
        saved = task_services.task_create(
            tenant=project.tenant, actor=actor_of(request), project=project, title=data["title"],
            parent_id=parent.id if parent else None, description=data.get("description", ""),
            priority=data.get("priority", Task.Priority.MEDIUM), initial_prompt=data.get("initial_prompt", ""),
            skill_ids=data.get("skill_ids"), agent_ids=data.get("agent_ids"), dependencies=data.get("dependencies"),
        )
        if status != Task.Status.PENDING:
            saved = task_services.task_update(tenant=project.tenant, task_id=saved.id, actor=actor_of(request),
                                              changes={"status": status})
        return saved

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        self.saved_by_services(formset)
        if formset.model is not Subtask or self.refused(request):
            return
        task: Task = form.instance
        common = {"tenant": task.tenant, "task_id": task.id, "actor": actor_of(request)}
        for sub_form in formset.forms:
            deleting = formset.can_delete and formset._should_delete_form(sub_form)
            if not sub_form.has_changed() and not deleting:
                continue
            instance = sub_form.instance
            if deleting:
                if instance.pk:
                    self.call_quietly(request, f"Subtask {instance.pk}", task_services.subtask_delete,
                                      subtask_id=instance.pk, **common)
                continue
            data = {f: sub_form.cleaned_data[f] for f in ("title", "description", "completed", "order")
                    if f in sub_form.cleaned_data}
            if instance.pk and Subtask.objects.filter(pk=instance.pk).exists():
                self.call_quietly(request, f"Subtask {instance.pk}", task_services.subtask_update,
                                  subtask_id=instance.pk, **common,
                                  changes={f: data[f] for f in sub_form.changed_data if f in data})
            else:
                self.call_quietly(request, "New subtask", task_services.subtask_create, **common, **data)


class SessionForm(forms.ModelForm[Session]):
    linked_tasks = forms.ModelMultipleChoiceField(queryset=Task.objects.none(), required=False,
                                                  help_text="Tasks of this session's project")
    env = PrettyJSONField(shape="string map", required=False,
                          help_text='Environment variables, a JSON object of strings: {"NAME": "value"}.')
    metadata = PrettyJSONField(shape="object", required=False, help_text="A JSON object.")

    class Meta:
        model = Session
        fields = ("name", "status", "agent_id", "env", "metadata", "hostname", "platform")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            linked_tasks = cast("forms.ModelMultipleChoiceField[Task]", self.fields["linked_tasks"])
            linked_tasks.queryset = Task.objects.filter(project_id=self.instance.project_id)
            self.initial["linked_tasks"] = list(self.instance.task_links.values_list("task_id", flat=True))


@admin.register(Session)
class SessionAdmin(ServiceAdmin[Session]):
    form = SessionForm
    kind = session_services.SESSION
    service_id_arg = "session_id"
    service_fields = ("name", "status", "agent_id", "env", "metadata", "hostname", "platform")
    identity_fields = ("id", "tenant", "project")
    bookkeeping = ("started_at", "last_activity", "completed_at")
    delete_service = staticmethod(session_services.session_delete)
    list_display = ("short_name", "project_name", "status", "agent_id", "task_count", "version", "last_activity",
                    "tenant")
    list_filter = ("status", "tenant", "project")
    date_hierarchy = "last_activity"
    search_fields = ("id", "name", "agent_id", "hostname")
    list_select_related = ("project",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sessions are started by agents (POST /api/sessions or spawn)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        return super().get_queryset(request).annotate(task_total=related_count(SessionTask, "session"))

    @admin.display(description="name", ordering="name")
    def short_name(self, obj: Session) -> str:
        return Truncator(obj.name).chars(50)

    @admin.display(description="project", ordering="project__name")
    def project_name(self, obj: Session) -> str:
        return Truncator(obj.project.name).chars(40)

    @admin.display(description="tasks", ordering="task_total")
    def task_count(self, obj: Session) -> int:
        return cast(int, getattr(obj, "task_total", 0))

    def changes_elsewhere(self, form: forms.ModelForm[Session]) -> bool:
        return "linked_tasks" in form.changed_data

    def save_model(self, request: HttpRequest, obj: Session, form: forms.ModelForm[Session], change: bool) -> None:
        # The linked tasks are a form field of their own, saved by the same service call.
        request.maestro_linked_tasks = (  # type: ignore[attr-defined]
            [t.id for t in form.cleaned_data["linked_tasks"]] if "linked_tasks" in form.changed_data else None)
        super().save_model(request, obj, form, change)

    def update(self, request: HttpRequest, obj: Session, changes: dict[str, Any],
               expected_version: int | None) -> Session:
        return session_services.session_update(tenant=obj.tenant, session_id=obj.id, actor=actor_of(request),
                                               changes=changes, task_ids=request.maestro_linked_tasks)  # type: ignore[attr-defined]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # links were saved by the service
