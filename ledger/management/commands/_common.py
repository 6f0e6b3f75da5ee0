from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger.selectors import ledger_tenants


def tenants(slugs: list[str] | None) -> list[tuple[int, str]]:
    """``(id, slug)`` of the named tenants, or of every tenant that has a ledger."""
    found = ledger_tenants(slugs)
    if slugs:
        missing = sorted(set(slugs) - {slug for _, slug in found})
        if missing:
            raise CommandError(f"no ledger for tenant(s): {', '.join(missing)}")
        order = {slug: i for i, slug in enumerate(slugs)}
        found.sort(key=lambda t: order[t[1]])
    return found


class LedgerCommand(BaseCommand):
    """A command over the ledgers of the ``--tenant`` slugs given, or of every tenant with one."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", help="tenant slug (repeatable; default: all)")

    def tenants(self, opts: dict[str, Any]) -> list[tuple[int, str]]:
        return tenants(opts["tenant"])


def print_reports(command: BaseCommand, reports: list[tuple[str, dict[str, Any]]], *, as_json: bool) -> None:
    """One line per tenant naming the first bad sequence number; exit status 1 if any is invalid."""
    if as_json:
        command.stdout.write(json.dumps(dict(reports), indent=2))
    bad = []
    for slug, report in reports:
        if report["valid"]:
            line = f"{slug}: valid, {report['totalEntries']} entries, root {report.get('rootHash')}"
            if not as_json:
                command.stdout.write(line)
            continue
        bad.append(slug)
        first = report["errors"][0] if report["errors"] else {}
        command.stderr.write(f"{slug}: INVALID, first bad sequence {first.get('sequenceNumber')}: "
                             f"{first.get('error')} ({report['errorCount']} problem(s), last verified "
                             f"{report['lastVerifiedSequence']})")
    if bad:
        raise CommandError(f"ledger verification failed for: {', '.join(bad)}")
