"""Read-only admin pages: the ledger is changed only by appending through the services, never
by hand (and on PostgreSQL the database refuses edits to sequenced entries anyway)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from ledger.models import ArchiveSegment, Checkpoint, IntakeEntry, LedgerEntry, TenantHead, VerificationRun
from ledger.verify import entry_checks, entry_evidence
from maestro.readonly_admin import ReadOnlyAdmin

VERIFY_AT_ONCE = 100  # entries the "Verify selected" action checks (each reads its proof)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin[LedgerEntry]):
    """An entry's page shows its payload (pretty, or that it was pruned), its hashes and its
    inclusion proof against the latest signed checkpoint; "Verify" runs every check of
    ``ledger.verify.entry_checks`` on it and shows each one passed or failed."""

    # The hash is searched for (exact) and the resource type filtered by (the action names it),
    # not shown: the list fits 1280 px.
    list_display = ("seq", "timestamp", "action_type", "resource_id", "actor_id", "tenant")
    list_filter = ("tenant", "actor_type", "resource_type")
    search_fields = ("=id", "action_type", "=resource_id", "actor_id", "=current_hash")
    ordering = ("tenant", "-sequence_number")
    list_select_related = ("tenant",)
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("sequence_number", "id", "tenant", "timestamp", "action_type", "resource_type",
                           "resource_id", "actor_id", "actor_type", "metadata")}),
        ("Hashes", {"fields": ("previous_hash", "current_hash", "payload_hash")}),
    )

    actions = ("verify_entries",)

    @admin.display(description="seq", ordering="sequence_number")
    def seq(self, obj: LedgerEntry) -> int:
        return obj.sequence_number

    @admin.action(description="Verify selected entries")
    def verify_entries(self, request: HttpRequest, queryset: QuerySet[LedgerEntry]) -> None:
        passed, failed = [], []
        for entry in queryset.order_by("tenant", "sequence_number")[:VERIFY_AT_ONCE]:
            bad = [c["name"] for c in entry_checks(entry_evidence(entry=entry)) if not c["ok"]]
            name = f"#{entry.sequence_number} ({entry.tenant.slug})"
            if bad:
                failed.append(f"{name}: {', '.join(bad)}")
            else:
                passed.append(name)
        if passed:
            self.message_user(request, f"Every check passed for {len(passed)}: {', '.join(passed)}.",
                              messages.SUCCESS)
        if failed:
            self.message_user(request, f"Failed {len(failed)}: {'; '.join(failed)}.", messages.ERROR)

    def get_urls(self) -> list[URLPattern]:
        verify = path("<path:object_id>/verify/", self.admin_site.admin_view(self.verify_view),
                      name="ledger_ledgerentry_verify")
        return [verify, *super().get_urls()]

    def verify_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self.change_view(request, object_id, extra_context={"maestro_verify": True})

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = dict(extra_context or {})
        entry = self.get_object(request, unquote(object_id))
        if entry is not None and request.method == "GET":
            evidence = entry_evidence(entry=entry)
            payload = evidence["payload"]
            context.update({
                "maestro_evidence": evidence,
                "maestro_payload": None if payload is None else json.dumps(json.loads(payload), indent=2,
                                                                            ensure_ascii=False),
                "maestro_audit_id": entry.metadata.get("auditId") if isinstance(entry.metadata, dict) else None,
            })
            if context.pop("maestro_verify", False):
                checks = entry_checks(evidence)
                context["maestro_checks"] = checks
                context["maestro_verified"] = all(c["ok"] for c in checks)
        return super().change_view(request, object_id, form_url, context)


@admin.register(IntakeEntry)
class IntakeEntryAdmin(ReadOnlyAdmin[IntakeEntry]):
    list_display = ("pk_id", "id", "tenant", "timestamp", "action_type", "resource_type", "resource_id", "actor_id")
    list_filter = ("tenant",)
    ordering = ("pk_id",)
    exclude = ("entry_template",)

    def get_readonly_fields(self, request: HttpRequest, obj: IntakeEntry | None = None) -> list[str]:
        return [f.name for f in self.model._meta.concrete_fields if f.name != "entry_template"]


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin[Checkpoint]):
    list_display = ("tenant", "tree_size", "root_hash", "timestamp", "key_id")
    list_filter = ("tenant",)
    ordering = ("tenant", "-tree_size")


@admin.register(TenantHead)
class TenantHeadAdmin(ReadOnlyAdmin[TenantHead]):
    list_display = ("tenant", "sequence_number", "head_hash", "updated_at")


@admin.register(ArchiveSegment)
class ArchiveSegmentAdmin(ReadOnlyAdmin[ArchiveSegment]):
    list_display = ("tenant", "first_sequence", "last_sequence", "key", "sha256", "size_bytes", "archived_at",
                    "payloads_pruned_at")
    list_filter = ("tenant",)
    ordering = ("tenant", "-first_sequence")


@admin.register(VerificationRun)
class VerificationRunAdmin(ReadOnlyAdmin[VerificationRun]):
    list_display = ("tenant", "kind", "finished_at", "valid", "total_entries")
    list_filter = ("tenant", "kind", "valid")
    ordering = ("-finished_at",)
