"""Agents in the admin: their routing (status, weight) and the metrics counted from their runs."""

from __future__ import annotations

from django.contrib import admin

from maestro.admin_base import ServiceAdmin
from orchestration.control.agent_metrics import NO_RUNS, agent_metrics, metrics_window
from orchestration.control.models.agents import AgentProfile
from orchestration.control.services import agents as agent_services


@admin.register(AgentProfile)
class AgentProfileAdmin(ServiceAdmin[AgentProfile]):
    kind = agent_services.AGENT
    service_id_arg = "agent_id"
    create_service = staticmethod(agent_services.agent_create)
    update_service = staticmethod(agent_services.agent_update)
    delete_service = staticmethod(agent_services.agent_delete)
    list_display = ("slug", "name", "model", "status", "routing_weight", "metrics", "version", "updated_at",
                    "tenant")
    list_filter = ("tenant", "status", "model")
    search_fields = ("slug", "name", "role", "model")
    ordering = ("tenant", "created_at")
    service_fields = ("name", "role", "model", "status", "routing_weight")
    readonly_fields = ("metrics",)
    fieldsets = (
        (None, {"fields": ("tenant", "slug", "name", "role", "model", "expected_version")}),
        ("Routing", {"fields": ("status", "routing_weight"),
                     "description": "Routing weight is the percent of eligible traffic (0 drains the agent)."}),
        ("Metrics", {"fields": ("metrics",),
                     "description": "Counted from the agent's finished runs of the recent window "
                                    "(MAESTRO_AGENT_METRICS_WINDOW_SECONDS), never stored."}),
        ("Bookkeeping", {"fields": ("version", "created_at", "updated_at"), "classes": ("collapse",)}),
    )

    @admin.display(description="metrics")
    def metrics(self, obj: AgentProfile) -> str:
        if not obj.pk:
            return "—"
        m = agent_metrics(tenant_id=obj.tenant_id, agent_ids=[obj.slug]).get(obj.slug, NO_RUNS)
        hours = metrics_window().total_seconds() / 3600
        return (f"success {m.success_rate:g}% · p95 {m.latency_p95:g} ms · cost/task {m.cost_per_task:g} "
                f"({m.runs} runs in {hours:g}h)")
