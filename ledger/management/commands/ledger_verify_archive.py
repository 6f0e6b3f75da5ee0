from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from ledger.archive_verify import verify_archive
from ledger.management.commands._common import LedgerCommand, print_reports


class Command(LedgerCommand):
    help = ("Re-hash the archived segments (MAESTRO_ARCHIVE_URL) against their manifests and signed checkpoints. "
            "Exits 1 naming the first bad sequence number.")

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--url", help="archive URL (default: MAESTRO_ARCHIVE_URL)")
        parser.add_argument("--json", action="store_true", help="print the full reports")

    def handle(self, *args: Any, **opts: Any) -> None:
        reports = [(slug, verify_archive(tenant_id=pk, slug=slug, url=opts["url"]))
                   for pk, slug in self.tenants(opts)]
        print_reports(self, reports, as_json=opts["json"])
