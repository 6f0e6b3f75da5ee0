"""Playbooks in the admin: triggers and actions edited one per line (or comma-separated)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from maestro.admin_base import ListField, ServiceAdmin, VersionedForm
from orchestration.control.models.playbooks import Playbook
from orchestration.control.services import playbooks as playbook_services


class PlaybookForm(VersionedForm[Playbook]):
    triggers = ListField(help_text="One trigger per line (or separated by commas), e.g. pod_crash_loop.")
    actions = ListField(help_text="One action per line (or separated by commas), e.g. k8s.delete_pod.")

    class Meta:
        model = Playbook
        fields = "__all__"


@admin.register(Playbook)
class PlaybookAdmin(ServiceAdmin[Playbook]):
    form = PlaybookForm
    kind = playbook_services.PLAYBOOK
    service_id_arg = "playbook_id"
    create_service = staticmethod(playbook_services.playbook_create)
    update_service = staticmethod(playbook_services.playbook_update)
    delete_service = staticmethod(playbook_services.playbook_delete)
    list_display = ("slug", "name", "is_enabled", "trigger_count", "action_count", "version", "updated_at", "tenant")
    list_filter = ("tenant", "is_enabled")
    search_fields = ("slug", "name", "description")
    ordering = ("tenant", "created_at")
    service_fields = ("name", "description", "triggers", "actions", "is_enabled")
    fieldsets = (
        (None, {"fields": ("tenant", "slug", "name", "description", "is_enabled", "expected_version")}),
        ("When and what", {"fields": ("triggers", "actions")}),
        ("Bookkeeping", {"fields": ("version", "created_at", "updated_at"), "classes": ("collapse",)}),
    )
    actions = ("enable_playbooks", "disable_playbooks")

    @admin.display(description="triggers")
    def trigger_count(self, obj: Playbook) -> int:
        return len(obj.triggers or [])

    @admin.display(description="actions")
    def action_count(self, obj: Playbook) -> int:
        return len(obj.actions or [])

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[Playbook], enabled: bool, verb: str) -> None:
        self.service_action(request, queryset, verb, playbook_services.playbook_set_enabled, enabled=enabled,
                            skip=lambda pb: f"already {verb.lower()}" if pb.is_enabled == enabled else None)

    @admin.action(description="Enable selected playbooks")
    def enable_playbooks(self, request: HttpRequest, queryset: QuerySet[Playbook]) -> None:
        self._set_enabled(request, queryset, True, "Enabled")

    @admin.action(description="Disable selected playbooks")
    def disable_playbooks(self, request: HttpRequest, queryset: QuerySet[Playbook]) -> None:
        self._set_enabled(request, queryset, False, "Disabled")
