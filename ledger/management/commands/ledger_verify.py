from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from ledger.management.commands._common import LedgerCommand, print_reports
from ledger.verify import verify_chain


class Command(LedgerCommand):
    help = ("Verify the whole ledger of each tenant (sequence, links, recomputed hashes, payloads, Merkle roots "
            "against the signed checkpoints). Exits 1 naming the first bad sequence number.")

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--json", action="store_true", help="print the full reports")

    def handle(self, *args: Any, **opts: Any) -> None:
        reports = [(slug, verify_chain(tenant_id=pk)) for pk, slug in self.tenants(opts)]
        print_reports(self, reports, as_json=opts["json"])
