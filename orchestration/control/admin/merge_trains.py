"""Merge trains in the admin, their pull requests inline; both saved through the services."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from maestro.admin_base import ServiceAdmin, related_count
from maestro.core.exceptions import MaestroError
from orchestration.control.models.merge_trains import MergeTrain, MergeTrainPullRequest
from orchestration.control.services import merge_trains as services


class PullRequestInline(admin.TabularInline[MergeTrainPullRequest, MergeTrain]):
    model = MergeTrainPullRequest
    fields = ("position", "number", "title", "author", "status", "url", "finished_at")
    readonly_fields = ("finished_at",)
    extra = 0
    ordering = ("position", "created_at")


@admin.register(MergeTrain)
class MergeTrainAdmin(ServiceAdmin[MergeTrain]):
    kind = services.MERGE_TRAIN
    service_id_arg = "train_id"
    delete_service = staticmethod(services.merge_train_delete)
    inlines = (PullRequestInline,)
    list_display = ("slug", "status", "waiting_count", "version", "updated_at", "tenant")
    list_filter = ("tenant", "status")
    search_fields = ("slug",)
    service_fields = ("status",)
    create_service = staticmethod(services.merge_train_create)
    fieldsets = (
        (None, {"fields": ("tenant", "slug", "status", "expected_version")}),
        ("Bookkeeping", {"fields": ("version", "created_at", "updated_at"), "classes": ("collapse",)}),
    )
    actions = ("pause_trains", "resume_trains")

    def get_queryset(self, request: HttpRequest) -> QuerySet[MergeTrain]:
        return super().get_queryset(request).annotate(
            waiting=related_count(MergeTrainPullRequest, "train", status__in=MergeTrainPullRequest.ACTIVE))

    @admin.display(description="PRs in the train", ordering="waiting")
    def waiting_count(self, obj: MergeTrain) -> int:
        return cast(int, getattr(obj, "waiting", 0))

    def update(self, request: HttpRequest, obj: MergeTrain, changes: dict[str, Any],
               expected_version: int | None) -> MergeTrain:
        # ``status`` is the only field a train's form edits (its PRs are the inline).
        return self.call_service(request, obj, services.merge_train_set_status, status=changes["status"],
                                 expected_version=expected_version)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Each added, edited or removed PR goes through the service (one audit row each)."""
        self.saved_by_services(formset)
        train = form.instance
        for pr_form in formset.forms:
            if not pr_form.has_changed() and not formset._should_delete_form(pr_form):
                continue
            data = pr_form.cleaned_data
            try:
                if formset._should_delete_form(pr_form):
                    if pr_form.instance.pk:
                        self.call_service(request, train, services.merge_train_pr_remove,
                                          number=pr_form.instance.number)
                    continue
                if pr_form.instance.pk and pr_form.instance.number != data["number"]:
                    self.call_service(request, train, services.merge_train_pr_remove, number=pr_form.instance.number)
                self.call_service(
                    request, train, services.merge_train_pr_upsert, number=data["number"], title=data["title"],
                    author=data.get("author", ""), status=data["status"], url=data.get("url", ""),
                    position=data.get("position"))
            except MaestroError as exc:
                self.message_user(request, f"PR #{data.get('number')} not saved: {exc.message}", messages.ERROR)

    @admin.action(description="Pause selected merge trains")
    def pause_trains(self, request: HttpRequest, queryset: QuerySet[MergeTrain]) -> None:
        self.status_action(request, queryset, "Paused", services.merge_train_set_status, MergeTrain.Status.PAUSED)

    @admin.action(description="Resume selected merge trains")
    def resume_trains(self, request: HttpRequest, queryset: QuerySet[MergeTrain]) -> None:
        self.status_action(request, queryset, "Resumed", services.merge_train_set_status, MergeTrain.Status.ACTIVE)
