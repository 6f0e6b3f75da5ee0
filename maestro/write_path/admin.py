"""The audit log, read-only: rows are written only by the services (allowed and denied)."""

from __future__ import annotations

from django.contrib import admin

from maestro.readonly_admin import ReadOnlyAdmin
from maestro.write_path.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin[AuditEvent]):
    # The request id is searched for and the resource type filtered by (the action names it),
    # not shown: the list fits 1280 px.
    list_display = ("timestamp", "actor", "action", "resource", "status", "policy_id", "tenant")
    list_filter = ("tenant", "status", "actor_type", "resource_type")
    search_fields = ("actor", "action", "resource", "details", "request_id", "legacy_id", "policy_id")
    date_hierarchy = "timestamp"
    ordering = ("-timestamp", "-id")
    list_per_page = 100
    show_full_result_count = False
