"""Read-only admin pages: the ledger is changed only by appending through the services, never
by hand (and on PostgreSQL the database refuses edits to sequenced entries anyway)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from ledger.models import ArchiveSegment, Checkpoint, IntakeEntry, LedgerEntry, TenantHead, VerificationRun
from maestro.readonly_admin import ReadOnlyAdmin


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin[LedgerEntry]):
    list_display = ("sequence_number", "tenant", "timestamp", "action_type", "resource_type", "resource_id",
                    "actor_id", "actor_type", "short_hash")
    list_filter = ("tenant", "actor_type", "resource_type")
    search_fields = ("=id", "action_type", "resource_id", "actor_id", "=current_hash")
    ordering = ("tenant", "-sequence_number")
    list_select_related = ("tenant",)
    show_full_result_count = False

    @admin.display(description="current hash")
    def short_hash(self, obj: LedgerEntry) -> str:
        return obj.current_hash[:16] + "…"


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
