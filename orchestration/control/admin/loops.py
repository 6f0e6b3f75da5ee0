"""Autonomic loops in the admin: config checked against the loop type's schema, recent decisions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from maestro.admin_base import ServiceAdmin, VersionedForm
from orchestration.control.models.loops import AutonomicLoop, LoopDecision
from orchestration.control.services import loops as loop_services


class LoopForm(VersionedForm[AutonomicLoop]):
    class Meta:
        model = AutonomicLoop
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        loop_type = data.get("type") or getattr(self.instance, "type", None)
        if "config" in data and loop_type:
            stored = self.instance.config if self.instance.pk else {}
            problems = loop_services.loop_config_errors(
                loop_type, data["config"], kept=loop_services.kept_keys(self.instance.type, stored))
            if problems:
                self.add_error("config", [f"Invalid for a {loop_type} loop: {p}" for p in problems])
        return data


@admin.register(AutonomicLoop)
class AutonomicLoopAdmin(ServiceAdmin[AutonomicLoop]):
    form = LoopForm
    kind = loop_services.LOOP
    service_id_arg = "loop_id"
    create_service = staticmethod(loop_services.loop_create)
    update_service = staticmethod(loop_services.loop_update)
    delete_service = staticmethod(loop_services.loop_delete)
    list_display = ("slug", "name", "type", "status", "last_run", "version", "updated_at", "tenant")
    list_filter = ("tenant", "type", "status")
    search_fields = ("slug", "name", "last_decision")
    ordering = ("tenant", "created_at")
    service_fields = ("name", "type", "status", "config")
    fieldsets = (
        (None, {"fields": ("tenant", "slug", "name", "type", "status", "expected_version")}),
        ("Configuration", {"fields": ("config",),
                           "description": "JSON, checked against the schema of the loop's type "
                                          "(orchestration/schemas/loop_config_&lt;type&gt;.json). "
                                          "Takes effect at the loop's next tick."}),
        ("Decisions", {"fields": ("last_decision", "last_run", "recent_decisions")}),
        ("Bookkeeping", {"fields": ("version", "created_at", "updated_at"), "classes": ("collapse",)}),
    )
    readonly_fields = ("last_decision", "last_run", "recent_decisions")
    actions: tuple[str, ...] = ("pause_loops", "resume_loops")

    @admin.display(description="recent decisions")
    def recent_decisions(self, obj: AutonomicLoop) -> str:
        rows = LoopDecision.objects.filter(loop=obj).order_by("-created_at", "-id")[:20] if obj.pk else []
        if not rows:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: <b>{}</b> {}</li>",
                                                           ((r.created_at, r.action, r.decision) for r in rows)))

    @admin.action(description="Pause selected loops")
    def pause_loops(self, request: HttpRequest, queryset: QuerySet[AutonomicLoop]) -> None:
        self.status_action(request, queryset, "Paused", loop_services.loop_set_status, AutonomicLoop.Status.PAUSED)

    @admin.action(description="Resume selected loops")
    def resume_loops(self, request: HttpRequest, queryset: QuerySet[AutonomicLoop]) -> None:
        self.status_action(request, queryset, "Resumed", loop_services.loop_set_status, AutonomicLoop.Status.ACTIVE)
