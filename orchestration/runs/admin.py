"""Runs are created and moved by the orchestration engine; the admin reads them and can
cancel (through the same compare-and-set service the engine uses)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from maestro.admin_base import ServiceAdmin, actor_of
from maestro.readonly_admin import ReadOnlyAdmin
from orchestration.runs.models import Run
from orchestration.runs.services import RUN, TRANSITIONS, run_transition


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin[Run], ServiceAdmin[Run]):
    form = forms.ModelForm[Run]  # read-only rows: no version to guard
    kind = RUN
    list_display = ("id", "pipeline", "status", "created_at", "duration_ms", "cost", "tenant")
    list_filter = ("tenant", "status", "pipeline")
    search_fields = ("id", "pipeline", "pipeline_id", "executor_id", "error_message")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    actions = ("cancel_runs",)
    identity_fields = ()
    bookkeeping = ()

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        # Rows are read-only here, but cancelling is a state change for whoever may change runs.
        return request.user.has_perm("orchestration.change_run")

    @admin.action(description="Cancel selected runs", permissions=["cancel"])
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        cancellable = {s for s, targets in TRANSITIONS.items() if Run.Status.CANCELLED in targets}
        self.run_action(request, queryset, "Cancelled",
                        lambda r: run_transition(tenant=r.tenant, actor=actor_of(request), run_id=r.id,
                                                 to=Run.Status.CANCELLED),
                        skip=lambda r: None if r.status in cancellable else r.status)
