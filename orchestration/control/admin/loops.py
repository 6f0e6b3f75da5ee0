"""Loops, agents and playbooks in the admin."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from maestro.admin_base import ServiceAdmin, VersionedForm
from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.loops import AutonomicLoop, LoopDecision
from orchestration.control.models.playbooks import Playbook
from orchestration.control.services import agents as agent_services
from orchestration.control.services import loops as loop_services
from orchestration.control.services import playbooks as playbook_services


class LoopForm(VersionedForm[AutonomicLoop]):
    class Meta:
        model = AutonomicLoop
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        loop_type = data.get("type") or getattr(self.instance, "type", None)
        if "config" in data and loop_type:
            problems = loop_services.loop_config_errors(loop_type, data["config"])
            if problems:
                self.add_error("config", [f"Invalid for a {loop_type} loop: {p}" for p in problems])
        return data


@admin.register(AutonomicLoop)
class AutonomicLoopAdmin(ServiceAdmin[AutonomicLoop]):
    form = LoopForm
    kind = loop_services.LOOP
    service_id_arg = "loop_id"
    update_service = staticmethod(loop_services.loop_update)
    delete_service = staticmethod(loop_services.loop_delete)
    list_display = ("slug", "name", "type", "status", "last_run", "version", "tenant")
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
    actions = ("pause_loops", "resume_loops")

    @admin.display(description="recent decisions")
    def recent_decisions(self, obj: AutonomicLoop) -> str:
        rows = LoopDecision.objects.filter(loop=obj).order_by("-created_at", "-id")[:10] if obj.pk else []
        if not rows:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>",
                                                           ((r.created_at, r.decision) for r in rows)))

    def create(self, request: HttpRequest, obj: AutonomicLoop, form: forms.ModelForm[AutonomicLoop]) -> AutonomicLoop:
        return self.call_service(request, obj, loop_services.loop_create, name=obj.name, type=obj.type,
                                 status=obj.status, config=obj.config)

    @admin.action(description="Pause selected loops")
    def pause_loops(self, request: HttpRequest, queryset: QuerySet[AutonomicLoop]) -> None:
        self.status_action(request, queryset, "Paused", loop_services.loop_set_status, AutonomicLoop.Status.PAUSED)

    @admin.action(description="Resume selected loops")
    def resume_loops(self, request: HttpRequest, queryset: QuerySet[AutonomicLoop]) -> None:
        self.status_action(request, queryset, "Resumed", loop_services.loop_set_status, AutonomicLoop.Status.ACTIVE)


@admin.register(AgentProfile)
class AgentProfileAdmin(ServiceAdmin[AgentProfile]):
    kind = agent_services.AGENT
    service_id_arg = "agent_id"
    update_service = staticmethod(agent_services.agent_update)
    delete_service = staticmethod(agent_services.agent_delete)
    list_display = ("slug", "name", "role", "model", "status", "routing_weight", "success_rate", "version", "tenant")
    list_filter = ("tenant", "status", "model")
    search_fields = ("slug", "name", "role", "model")
    ordering = ("tenant", "created_at")
    service_fields = ("name", "role", "model", "status", "success_rate", "latency_p95", "cost_per_task",
                      "routing_weight")
    fieldsets = (
        (None, {"fields": ("tenant", "slug", "name", "role", "model", "expected_version")}),
        ("Routing", {"fields": ("status", "routing_weight"),
                     "description": "Routing weight is the percent of eligible traffic (0 drains the agent)."}),
        ("Metrics", {"fields": ("success_rate", "latency_p95", "cost_per_task")}),
        ("Bookkeeping", {"fields": ("version", "created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def create(self, request: HttpRequest, obj: AgentProfile, form: forms.ModelForm[AgentProfile]) -> AgentProfile:
        return self.call_service(
            request, obj, agent_services.agent_create, name=obj.name, role=obj.role, model=obj.model,
            status=obj.status, success_rate=obj.success_rate, latency_p95=obj.latency_p95,
            cost_per_task=obj.cost_per_task, routing_weight=obj.routing_weight)


class LinesField(forms.CharField):
    """A list of strings edited as one per line."""

    widget = forms.Textarea(attrs={"rows": 4})

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, str):
            text = value
            try:
                value = json.loads(text)
            except ValueError:
                return text
        return "\n".join(value or [])

    # A CharField's text, cleaned into the list of its lines (the stubs' CharField cleans to a str).
    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        return [line.strip() for line in (value or "").splitlines() if line.strip()]

    def has_changed(self, initial: Any, data: Any) -> bool:
        return list(initial or []) != self.to_python(data)


class PlaybookForm(VersionedForm[Playbook]):
    triggers = LinesField(required=False, help_text="One trigger per line, e.g. pod_crash_loop.")
    actions = LinesField(required=False, help_text="One action per line, e.g. k8s.delete_pod.")

    class Meta:
        model = Playbook
        fields = "__all__"


@admin.register(Playbook)
class PlaybookAdmin(ServiceAdmin[Playbook]):
    form = PlaybookForm
    kind = playbook_services.PLAYBOOK
    service_id_arg = "playbook_id"
    update_service = staticmethod(playbook_services.playbook_update)
    delete_service = staticmethod(playbook_services.playbook_delete)
    list_display = ("slug", "name", "is_enabled", "version", "tenant")
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

    def create(self, request: HttpRequest, obj: Playbook, form: forms.ModelForm[Playbook]) -> Playbook:
        return self.call_service(
            request, obj, playbook_services.playbook_create, name=obj.name, description=obj.description,
            triggers=obj.triggers, actions=obj.actions, is_enabled=obj.is_enabled)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[Playbook], enabled: bool, verb: str) -> None:
        self.service_action(request, queryset, verb, playbook_services.playbook_set_enabled, enabled=enabled,
                            skip=lambda pb: f"already {verb.lower()}" if pb.is_enabled == enabled else None)

    @admin.action(description="Enable selected playbooks")
    def enable_playbooks(self, request: HttpRequest, queryset: QuerySet[Playbook]) -> None:
        self._set_enabled(request, queryset, True, "Enabled")

    @admin.action(description="Disable selected playbooks")
    def disable_playbooks(self, request: HttpRequest, queryset: QuerySet[Playbook]) -> None:
        self._set_enabled(request, queryset, False, "Disabled")
