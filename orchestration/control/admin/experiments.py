"""Experiments in the admin: variants and stop conditions edited as JSON (checked by the same
rules as the API), lifecycle by actions, measured results shown read-only."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from maestro.admin_base import PrettyJSONField, ServiceAdmin, VersionedForm, related_count
from maestro.core.exceptions import ValidationFailed
from orchestration.control.models.experiments import Experiment, ExperimentObservation, ExperimentVariant
from orchestration.control.representations import variant_details
from orchestration.control.selectors.experiments import experiment_results
from orchestration.control.services import experiments as services


class ExperimentForm(VersionedForm[Experiment]):
    variants = PrettyJSONField(shape="list",
        help_text='A list of ids (equal traffic), e.g. ["control", "v2"], or of objects '
                  '{"id": "v2", "trafficWeight": 30, "configOverrides": {}} whose weights sum to 100. '
                  "Editable while the experiment is a draft.")

    class Meta:
        model = Experiment
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["variants"].initial = variant_details(self.instance)

    def clean_variants(self) -> list[dict[str, Any]]:
        try:
            return services.normalize_variants(self.cleaned_data["variants"])
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_stop_conditions(self) -> Any:
        value = self.cleaned_data.get("stop_conditions")
        problems = services.stop_condition_errors(value if value is not None else [])
        if problems:
            raise forms.ValidationError(problems)
        return value if value is not None else []

    def clean_metrics(self) -> Any:
        value = self.cleaned_data.get("metrics")
        if value is not None and not isinstance(value, dict):
            raise forms.ValidationError("Metrics must be a JSON object.")
        return value if value is not None else {}


@admin.register(Experiment)
class ExperimentAdmin(ServiceAdmin[Experiment]):
    form = ExperimentForm
    kind = services.EXPERIMENT
    service_id_arg = "experiment_id"
    create_service = staticmethod(services.experiment_create)
    update_service = staticmethod(services.experiment_update)
    delete_service = staticmethod(services.experiment_delete)
    list_display = ("slug", "short_name", "status", "variant_count", "observation_count", "version", "updated_at",
                    "tenant")
    list_filter = ("tenant", "status")
    search_fields = ("slug", "name", "hypothesis")
    ordering = ("tenant", "created_at")
    date_hierarchy = "start_date"
    service_fields = ("name", "hypothesis", "metrics", "variants", "stop_conditions")
    fieldsets = (
        (None, {"fields": ("tenant", "slug", "name", "hypothesis", "expected_version")}),
        ("Variants", {"fields": ("variants",)}),
        ("Stop conditions", {"fields": ("stop_conditions",),
                             "description": 'Any one ends the experiment, e.g. [{"type": "maxObservations", '
                                            '"value": 1000}, {"type": "maxDuration", "hours": 72}, '
                                            '{"type": "metricThreshold", "metric": "errorRate", "op": "gt", '
                                            '"value": 0.05, "minObservations": 100}].'}),
        ("Lifecycle", {"fields": ("status", "start_date", "end_date"),
                       "description": "Use the Start / Stop actions on the list page."}),
        ("Results", {"fields": ("metrics", "measured_results")}),
        ("Bookkeeping", {"fields": ("version", "created_at", "updated_at"), "classes": ("collapse",)}),
    )
    readonly_fields = ("status", "start_date", "end_date", "measured_results")
    actions = ("start_experiments", "stop_experiments")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Experiment]:
        return super().get_queryset(request).annotate(
            variant_total=related_count(ExperimentVariant, "experiment"),
            observation_total=related_count(ExperimentObservation, "experiment"))

    @admin.display(description="name", ordering="name")
    def short_name(self, obj: Experiment) -> str:
        return Truncator(obj.name).chars(40)

    @admin.display(description="variants", ordering="variant_total")
    def variant_count(self, obj: Experiment) -> int:
        return cast(int, getattr(obj, "variant_total", 0))

    @admin.display(description="observations", ordering="observation_total")
    def observation_count(self, obj: Experiment) -> int:
        return cast(int, getattr(obj, "observation_total", 0))

    @admin.display(description="measured results (from observations)")
    def measured_results(self, obj: Experiment) -> str:
        if not obj.pk:
            return "—"
        rows = []
        for variant in experiment_results(experiment=obj)["variants"]:
            for metric, agg in variant["metrics"].items():
                diff = agg["diffToControl"]
                rows.append((variant["variant"], metric, agg["count"], f"{agg['mean']:.4g}",
                             "—" if diff is None else f"{diff:+.4g}"))
        if not rows:
            return "No observations yet."
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html("<table><tr><th>variant</th><th>metric</th><th>count</th><th>mean</th>"
                           "<th>Δ control</th></tr>{}</table>", body)

    @admin.action(description="Start selected experiments (draft → running)")
    def start_experiments(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self.service_action(request, queryset, "Started", services.experiment_run,
                            skip=lambda e: None if e.status == Experiment.Status.DRAFT else e.status)

    @admin.action(description="Stop selected experiments (running → completed)")
    def stop_experiments(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self.service_action(request, queryset, "Stopped", services.experiment_stop,
                            skip=lambda e: None if e.status == Experiment.Status.RUNNING else e.status)
