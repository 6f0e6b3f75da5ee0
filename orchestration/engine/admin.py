"""The engine in the admin: workflow definitions (added as YAML, checked as the API checks them;
enabled, disabled and started from the list), runs with their steps and timeline (cancelled from
the list), and dead letters (replayed from the list). Every change goes through the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from maestro.admin_base import ServiceAdmin, actor_of
from maestro.core.exceptions import MaestroError
from maestro.readonly_admin import ReadOnlyAdmin
from maestro.tenancy.access import role_in
from maestro.write_path.catalogue import Action, Resource
from orchestration.engine import spec
from orchestration.engine.models import DeadLetter, RunStep, StepTransition, WorkflowDefinition
from orchestration.engine.services import (
    dead_letter_replay,
    run_cancel,
    run_start,
    workflow_create,
    workflow_set_enabled,
)
from orchestration.runs.admin import RunAdmin
from orchestration.runs.models import Run

SPEC_HELP = ("The workflow spec as YAML: a list of steps, each {id, action, params, dependsOn, retry, timeout}; "
             "the JSON Schema is at /api/maestro/workflows/schema.")


class _WorkflowKind:
    """How the admin names a definition in its messages (``deploy v2``)."""

    resource = Resource.WORKFLOW
    update = Action.WORKFLOW_UPDATE

    def ident_of(self, obj: WorkflowDefinition) -> str:
        return f"{obj.name} v{obj.version}"


class WorkflowForm(forms.ModelForm[WorkflowDefinition]):
    spec_yaml = forms.CharField(label="Spec (YAML)", widget=forms.Textarea(attrs={"rows": 20, "cols": 100}),
                                help_text=SPEC_HELP)

    class Meta:
        model = WorkflowDefinition
        fields = ("tenant", "name", "spec_yaml", "is_enabled")

    def clean_spec_yaml(self) -> str:
        text: str = self.cleaned_data["spec_yaml"]
        try:
            spec.validate(spec.parse_yaml(text))
        except MaestroError as exc:
            step = exc.details.get("step")
            raise forms.ValidationError(f"{exc.message}" + (f" (step {step})" if step else "")) from None
        return text


@admin.register(WorkflowDefinition)
class WorkflowDefinitionAdmin(ServiceAdmin[WorkflowDefinition]):
    form = WorkflowForm
    kind = _WorkflowKind()
    identity_fields = ()
    bookkeeping = ()
    list_display = ("name", "version", "is_enabled", "created_at", "tenant")
    list_filter = ("tenant", "is_enabled")
    search_fields = ("name",)
    ordering = ("tenant", "name", "-version")
    actions = ("enable", "disable", "start_runs")

    def records_id(self, obj: WorkflowDefinition) -> str:
        return obj.name  # the services record every version of a workflow under its name

    def has_change_permission(self, request: HttpRequest, obj: WorkflowDefinition | None = None) -> bool:
        # A definition is never edited in place (a run names the exact spec it ran): post the
        # name again for the next version. Enabling, disabling and starting are list actions.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: WorkflowDefinition | None = None) -> bool:
        return False

    def create(self, request: HttpRequest, obj: WorkflowDefinition,
               form: forms.ModelForm[WorkflowDefinition]) -> WorkflowDefinition:
        data = form.cleaned_data
        return workflow_create(tenant=data["tenant"], actor=actor_of(request), name=data["name"],
                               spec_yaml=data["spec_yaml"], is_enabled=data["is_enabled"])

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[WorkflowDefinition], enabled: bool) -> None:
        self.run_action(request, queryset, "Enabled" if enabled else "Disabled",
                        lambda wf: workflow_set_enabled(tenant=wf.tenant, actor=actor_of(request), name=wf.name,
                                                        version=wf.version, enabled=enabled),
                        skip=lambda wf: "unchanged" if wf.is_enabled == enabled else None)

    @admin.action(description="Enable selected workflow versions", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[WorkflowDefinition]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected workflow versions", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[WorkflowDefinition]) -> None:
        self._set_enabled(request, queryset, False)

    @admin.action(description="Start a run of each selected workflow version", permissions=["change"])
    def start_runs(self, request: HttpRequest, queryset: QuerySet[WorkflowDefinition]) -> None:
        self.run_action(request, queryset, "Started",
                        lambda wf: run_start(tenant=wf.tenant, actor=actor_of(request), workflow=wf.name,
                                             version=wf.version, role=role_in(request.user, wf.tenant), via="admin"))


class StepInline(admin.TabularInline[RunStep, Run]):
    model = RunStep
    extra = 0
    can_delete = False
    fields = ("step_id", "action", "status", "attempts", "executions", "depends_on", "started_at", "finished_at",
              "error", "output")
    readonly_fields = fields
    ordering = ("position",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TimelineInline(admin.TabularInline[StepTransition, Run]):
    model = StepTransition
    verbose_name_plural = "timeline"
    extra = 0
    can_delete = False
    fields = ("timestamp", "step", "status", "attempt", "error")
    readonly_fields = fields
    ordering = ("id",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.unregister(Run)


@admin.register(Run)
class EngineRunAdmin(RunAdmin):
    """The runs part's admin with the engine's steps and timeline, cancelling through the engine
    (which ends the run's unfinished steps too)."""

    inlines = (StepInline, TimelineInline)

    @admin.action(description="Cancel selected runs", permissions=["cancel"])
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        self.run_action(request, queryset, "Cancelled",
                        lambda r: run_cancel(tenant=r.tenant, actor=actor_of(request), run_id=r.id),
                        skip=lambda r: r.status if r.status in Run.FINISHED else None)


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin[DeadLetter], ServiceAdmin[DeadLetter]):
    form = forms.ModelForm[DeadLetter]
    identity_fields = ()
    bookkeeping = ()
    list_display = ("created_at", "run", "step_id", "action", "attempts", "error", "replayed_at", "tenant")
    list_filter = ("tenant", "action")
    search_fields = ("run__id", "step_id", "action", "error")
    ordering = ("-created_at",)
    actions = ("replay",)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orchestration.change_run")

    @admin.action(description="Replay selected dead letters", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        self.run_action(request, queryset, "Replayed",
                        lambda d: dead_letter_replay(tenant=d.tenant, actor=actor_of(request), dead_letter_id=d.id),
                        skip=lambda d: "already replayed" if d.replayed_at else None)
