"""Merge trains in the admin, their pull requests inline; both saved through the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from maestro.exceptions import MaestroError
from orchestration.admin.base import ServiceAdmin, VersionedForm, actor_of
from orchestration.models import MergeTrain, MergeTrainPullRequest
from orchestration.services import merge_trains as services


class PullRequestInline(admin.TabularInline):
    model = MergeTrainPullRequest
    fields = ("position", "number", "title", "author", "status", "url", "finished_at")
    readonly_fields = ("finished_at",)
    extra = 0
    ordering = ("position", "created_at")


class MergeTrainForm(VersionedForm):
    class Meta:
        model = MergeTrain
        fields = "__all__"


@admin.register(MergeTrain)
class MergeTrainAdmin(ServiceAdmin):
    form = MergeTrainForm
    resource_type = "merge_train"
    inlines = (PullRequestInline,)
    list_display = ("slug", "status", "version", "tenant")
    list_filter = ("tenant", "status")
    search_fields = ("slug",)
    service_fields = ("status",)
    fieldsets = (
        (None, {"fields": ("tenant", "slug", "status", "expected_version")}),
        ("Bookkeeping", {"fields": ("version", "created_at", "updated_at"), "classes": ("collapse",)}),
    )
    actions = ("pause_trains", "resume_trains")

    def create(self, request: HttpRequest, obj: MergeTrain, form: forms.ModelForm) -> MergeTrain:
        return services.merge_train_create(tenant=obj.tenant, actor=actor_of(request), train_id=obj.slug,
                                           status=obj.status)

    def update(self, request: HttpRequest, obj: MergeTrain, changes: dict[str, Any],
               expected_version: int | None) -> MergeTrain:
        return services.merge_train_set_status(tenant=obj.tenant, actor=actor_of(request), train_id=obj.slug,
                                               status=changes["status"], expected_version=expected_version)

    def delete(self, request: HttpRequest, obj: MergeTrain) -> None:
        services.merge_train_delete(tenant=obj.tenant, actor=actor_of(request), train_id=obj.slug)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Each added, edited or removed PR goes through the service (one audit row each)."""
        # The admin's change message reads these; the service wrote (and audited) the rows.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        train = form.instance
        for pr_form in formset.forms:
            if not pr_form.has_changed() and not formset._should_delete_form(pr_form):
                continue
            data = pr_form.cleaned_data
            try:
                if formset._should_delete_form(pr_form):
                    if pr_form.instance.pk:
                        services.merge_train_pr_remove(tenant=train.tenant, actor=actor_of(request),
                                                       train_id=train.slug, number=pr_form.instance.number)
                    continue
                if pr_form.instance.pk and pr_form.instance.number != data["number"]:
                    services.merge_train_pr_remove(tenant=train.tenant, actor=actor_of(request),
                                                   train_id=train.slug, number=pr_form.instance.number)
                services.merge_train_pr_upsert(
                    tenant=train.tenant, actor=actor_of(request), train_id=train.slug, number=data["number"],
                    title=data["title"], author=data.get("author", ""), status=data["status"],
                    url=data.get("url", ""), position=data.get("position"))
            except MaestroError as exc:
                self.message_user(request, f"PR #{data.get('number')} not saved: {exc.message}", messages.ERROR)

    def _set_status(self, request: HttpRequest, queryset: Any, status: str, verb: str) -> None:
        self.run_action(request, queryset, verb,
                        lambda t: services.merge_train_set_status(tenant=t.tenant, actor=actor_of(request),
                                                                  train_id=t.slug, status=status),
                        skip=lambda t: f"already {status}" if t.status == status else None)

    @admin.action(description="Pause selected merge trains")
    def pause_trains(self, request: HttpRequest, queryset: Any) -> None:
        self._set_status(request, queryset, MergeTrain.Status.PAUSED, "Paused")

    @admin.action(description="Resume selected merge trains")
    def resume_trains(self, request: HttpRequest, queryset: Any) -> None:
        self._set_status(request, queryset, MergeTrain.Status.ACTIVE, "Resumed")
