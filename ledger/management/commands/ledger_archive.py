from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ledger.archive import ArchiveError
from ledger.archiver import ArchiveRefused, archive_tenant
from ledger.checkpoint_archive import checkpoints_publish
from ledger.management.commands._common import LedgerCommand


class Command(LedgerCommand):
    help = ("Write the signed checkpoints not archived yet, then seal and archive ledger segments to "
            "MAESTRO_ARCHIVE_URL (write-once). Only full or aged segments unless --force, which also archives the "
            "tail up to the latest checkpoint.")

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--force", action="store_true", help="archive the unsealed tail too")

    def handle(self, *args: Any, **opts: Any) -> None:
        failed = []
        for tenant_id, slug in self.tenants(opts):
            try:
                published = checkpoints_publish(tenant_id=tenant_id)
                if published:
                    self.stdout.write(f"{slug}: wrote {published} signed checkpoint(s) to the archive")
                segments = archive_tenant(tenant_id=tenant_id, force=opts["force"])
            except ArchiveRefused as exc:
                first = exc.report["errors"][0] if exc.report["errors"] else {}
                self.stderr.write(f"{slug}: refused, first bad sequence {first.get('sequenceNumber')}: "
                                  f"{first.get('error')}")
                failed.append(slug)
                continue
            except ArchiveError as exc:
                self.stderr.write(f"{slug}: archive failed: {exc}")
                failed.append(slug)
                continue
            for s in segments:
                self.stdout.write(f"{slug}: archived {s.first_sequence}..{s.last_sequence} -> {s.key} "
                                  f"(sha256 {s.sha256})")
            if not segments:
                self.stdout.write(f"{slug}: nothing sealed to archive")
        if failed:
            raise CommandError(f"archiving failed for: {', '.join(failed)}")
