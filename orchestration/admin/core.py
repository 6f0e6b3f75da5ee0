"""Admin for projects, tasks and sessions. Every save, inline save and delete calls the same
services as the API, so admin edits are audited, ledgered and broadcast."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from maestro.core.actors import Actor
from maestro.core.exceptions import MaestroError
from maestro.core.wire import to_ms
from maestro.tenancy.models import Tenant
from orchestration.models import Project, Session, Subtask, Task, TaskTimelineEvent
from orchestration.services import projects as project_services
from orchestration.services import sessions as session_services
from orchestration.services import tasks as task_services


def actor_of(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, via_api=False)


class ServiceAdminMixin:
    """Turns a service's refusal into a message on the page instead of a 500."""

    @staticmethod
    def _mark_saved_by_service(formset: Any) -> None:
        # The admin's change message reads these; the service wrote (and audited) the rows.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def _call(self, request: HttpRequest, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except MaestroError as exc:
            self.message_user(request, f"{exc.code}: {exc.message}", level=messages.ERROR)  # type: ignore[attr-defined]
            return None


class TaskInline(admin.TabularInline):
    model = Task
    fields = ("id", "title", "status", "priority", "created_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ("name", "id", "tenant", "working_dir", "version", "created_at", "updated_at")
    list_filter = ("tenant",)
    search_fields = ("id", "name", "description", "working_dir")
    readonly_fields = ("id", "version", "created_at", "updated_at")
    inlines = [TaskInline]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        editable = ["name", "working_dir", "description"]
        return (["tenant", *editable] if obj is None else ["id", "tenant", *editable, "version", "created_at",
                                                           "updated_at"])

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.readonly_fields) + (["tenant"] if obj is not None else [])

    def save_model(self, request: HttpRequest, obj: Project, form: forms.ModelForm, change: bool) -> None:
        data = {f: form.cleaned_data[f] for f in ("name", "working_dir", "description") if f in form.cleaned_data}
        if change:
            saved = project_services.project_update(tenant=obj.tenant, project_id=obj.id, actor=actor_of(request),
                                                    changes={f: data[f] for f in form.changed_data if f in data})
        else:
            saved = project_services.project_create(tenant=form.cleaned_data["tenant"], actor=actor_of(request),
                                                    **data)
        obj.pk = saved.pk
        obj.__dict__.update(saved.__dict__)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        self._mark_saved_by_service(formset)  # the task inline is read-only

    def delete_model(self, request: HttpRequest, obj: Project) -> None:
        self._call(request, project_services.project_delete, tenant=obj.tenant, project_id=obj.id,
                   actor=actor_of(request))

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class SubtaskInline(admin.TabularInline):
    model = Subtask
    fields = ("title", "description", "completed", "order", "completed_at")
    readonly_fields = ("completed_at",)
    extra = 0


class TimelineInline(admin.TabularInline):
    model = TaskTimelineEvent
    fields = ("id", "type", "timestamp", "message", "session_id")
    readonly_fields = fields
    extra = 0
    can_delete = False  # the timeline is append-only history

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


TASK_EDITABLE = ("title", "description", "initial_prompt", "status", "priority", "skill_ids", "agent_ids",
                 "dependencies")


@admin.register(Task)
class TaskAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ("title", "id", "project", "status", "priority", "created_at", "completed_at")
    list_filter = ("status", "priority", "tenant", "project")
    search_fields = ("id", "title", "description")
    list_select_related = ("project",)
    readonly_fields = ("id", "tenant", "created_at", "updated_at", "started_at", "completed_at")
    inlines = [SubtaskInline, TimelineInline]
    raw_id_fields = ("parent",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return ["project", "parent", *TASK_EDITABLE]
        return ["id", "tenant", "project", "parent", *TASK_EDITABLE, "created_at", "updated_at", "started_at",
                "completed_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*self.readonly_fields, "project", "parent"] if obj is not None else []

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return super().get_inline_instances(request, obj) if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Task, form: forms.ModelForm, change: bool) -> None:
        data = {f: form.cleaned_data[f] for f in TASK_EDITABLE if f in form.cleaned_data}
        if change:
            saved = task_services.task_update(tenant=obj.tenant, task_id=obj.id, actor=actor_of(request),
                                              changes={f: data[f] for f in form.changed_data if f in data})
        else:
            project = form.cleaned_data["project"]
            parent = form.cleaned_data.get("parent")
            status = data.pop("status", Task.Status.PENDING)
            saved = task_services.task_create(
                tenant=project.tenant, actor=actor_of(request), project=project, title=data["title"],
                parent_id=parent.id if parent else None, description=data.get("description", ""),
                priority=data.get("priority", Task.Priority.MEDIUM), initial_prompt=data.get("initial_prompt", ""),
                skill_ids=data.get("skill_ids"), agent_ids=data.get("agent_ids"),
                dependencies=data.get("dependencies"),
            )
            if status != Task.Status.PENDING:
                saved = task_services.task_update(tenant=project.tenant, task_id=saved.id, actor=actor_of(request),
                                                  changes={"status": status})
        obj.pk = saved.pk
        obj.__dict__.update(saved.__dict__)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        self._mark_saved_by_service(formset)
        if formset.model is not Subtask:
            return
        task: Task = form.instance
        actor = actor_of(request)
        for sub_form in formset.forms:
            if not sub_form.has_changed() and not (formset.can_delete and formset._should_delete_form(sub_form)):
                continue
            instance = sub_form.instance
            if formset.can_delete and formset._should_delete_form(sub_form):
                if instance.pk:
                    self._call(request, task_services.subtask_delete, tenant=task.tenant, task_id=task.id,
                               subtask_id=instance.pk, actor=actor)
                continue
            data = {f: sub_form.cleaned_data[f] for f in ("title", "description", "completed", "order")
                    if f in sub_form.cleaned_data}
            if instance.pk and Subtask.objects.filter(pk=instance.pk).exists():
                self._call(request, task_services.subtask_update, tenant=task.tenant, task_id=task.id,
                           subtask_id=instance.pk, actor=actor,
                           changes={f: data[f] for f in sub_form.changed_data if f in data})
            else:
                self._call(request, task_services.subtask_create, tenant=task.tenant, task_id=task.id, actor=actor,
                           **data)

    def delete_model(self, request: HttpRequest, obj: Task) -> None:
        self._call(request, task_services.task_delete, tenant=obj.tenant, task_id=obj.id, actor=actor_of(request))

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class SessionForm(forms.ModelForm):
    linked_tasks = forms.ModelMultipleChoiceField(queryset=Task.objects.none(), required=False,
                                                  help_text="Tasks of this session's project")

    class Meta:
        model = Session
        fields = ("name", "status", "agent_id", "env", "metadata", "hostname", "platform")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["linked_tasks"].queryset = Task.objects.filter(project_id=self.instance.project_id)
            self.initial["linked_tasks"] = list(self.instance.task_links.values_list("task_id", flat=True))


@admin.register(Session)
class SessionAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = SessionForm
    list_display = ("name", "id", "project", "status", "agent_id", "started_at", "last_activity_ms")
    list_filter = ("status", "tenant", "project")
    search_fields = ("id", "name", "agent_id", "hostname")
    list_select_related = ("project",)
    readonly_fields = ("id", "tenant", "project", "started_at", "last_activity", "completed_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sessions are started by agents (POST /api/sessions or spawn)

    @admin.display(description="last activity (ms)")
    def last_activity_ms(self, obj: Session) -> int | None:
        return to_ms(obj.last_activity)

    def save_model(self, request: HttpRequest, obj: Session, form: forms.ModelForm, change: bool) -> None:
        fields = ("name", "status", "agent_id", "env", "metadata", "hostname", "platform")
        changes = {f: form.cleaned_data[f] for f in form.changed_data if f in fields}
        task_ids = None
        if "linked_tasks" in form.changed_data:
            task_ids = [t.id for t in form.cleaned_data["linked_tasks"]]
        session_services.session_update(tenant=obj.tenant, session_id=obj.id, actor=actor_of(request),
                                        changes=changes, task_ids=task_ids)
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # links were saved by the service

    def delete_model(self, request: HttpRequest, obj: Session) -> None:
        self._call(request, session_services.session_delete, tenant=obj.tenant, session_id=obj.id,
                   actor=actor_of(request))

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


__all__ = ["ProjectAdmin", "TaskAdmin", "SessionAdmin", "Tenant"]
