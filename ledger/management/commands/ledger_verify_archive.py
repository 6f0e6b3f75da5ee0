from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ledger.archive_verify import verify_archive
from ledger.management.commands._common import print_reports, tenants


class Command(BaseCommand):
    help = ("Re-hash the archived segments (MAESTRO_ARCHIVE_URL) against their manifests and signed checkpoints. "
            "Exits 1 naming the first bad sequence number.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", help="tenant slug (repeatable; default: all)")
        parser.add_argument("--url", help="archive URL (default: MAESTRO_ARCHIVE_URL)")
        parser.add_argument("--json", action="store_true", help="print the full reports")

    def handle(self, *args: Any, **opts: Any) -> None:
        reports = [(slug, verify_archive(tenant_id=pk, slug=slug, url=opts["url"]))
                   for pk, slug in tenants(opts["tenant"])]
        print_reports(self, reports, as_json=opts["json"])
