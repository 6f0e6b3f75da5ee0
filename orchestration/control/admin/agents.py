"""Agents in the admin: their routing (status, weight) and the metrics the router reads."""

from __future__ import annotations

from django.contrib import admin

from maestro.admin_base import ServiceAdmin
from orchestration.control.models.agents import AgentProfile
from orchestration.control.services import agents as agent_services


@admin.register(AgentProfile)
class AgentProfileAdmin(ServiceAdmin[AgentProfile]):
    kind = agent_services.AGENT
    service_id_arg = "agent_id"
    create_service = staticmethod(agent_services.agent_create)
    update_service = staticmethod(agent_services.agent_update)
    delete_service = staticmethod(agent_services.agent_delete)
    list_display = ("slug", "name", "model", "status", "routing_weight", "success_rate", "version", "updated_at",
                    "tenant")
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
