from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger.archive import ArchiveError
from ledger.archiver import ArchiveRefused, archive_tenant
from ledger.management.commands._common import tenants


class Command(BaseCommand):
    help = ("Seal and archive ledger segments to MAESTRO_ARCHIVE_URL (write-once). Only full or aged segments "
            "unless --force, which also archives the tail up to the latest checkpoint.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", help="tenant slug (repeatable; default: all)")
        parser.add_argument("--force", action="store_true", help="archive the unsealed tail too")

    def handle(self, *args: Any, **opts: Any) -> None:
        failed = []
        for tenant in tenants(opts["tenant"]):
            try:
                segments = archive_tenant(tenant_id=tenant.pk, force=opts["force"])
            except ArchiveRefused as exc:
                first = exc.report["errors"][0] if exc.report["errors"] else {}
                self.stderr.write(f"{tenant.slug}: refused, first bad sequence {first.get('sequenceNumber')}: "
                                  f"{first.get('error')}")
                failed.append(tenant.slug)
                continue
            except ArchiveError as exc:
                self.stderr.write(f"{tenant.slug}: archive failed: {exc}")
                failed.append(tenant.slug)
                continue
            for s in segments:
                self.stdout.write(f"{tenant.slug}: archived {s.first_sequence}..{s.last_sequence} -> {s.key} "
                                  f"(sha256 {s.sha256})")
            if not segments:
                self.stdout.write(f"{tenant.slug}: nothing sealed to archive")
        if failed:
            raise CommandError(f"archiving failed for: {', '.join(failed)}")
