from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ledger.models import TenantHead
from maestro.tenancy.models import Tenant


def tenants(slugs: list[str] | None) -> list[Tenant]:
    """The named tenants, or every tenant that has a ledger."""
    if slugs:
        found = {t.slug: t for t in Tenant.objects.filter(slug__in=slugs)}
        missing = sorted(set(slugs) - set(found))
        if missing:
            raise CommandError(f"unknown tenant(s): {', '.join(missing)}")
        return [found[s] for s in slugs]
    ids = TenantHead.objects.values_list("tenant_id", flat=True)
    return list(Tenant.objects.filter(pk__in=ids).order_by("slug"))


def print_reports(command: BaseCommand, reports: list[tuple[Tenant, dict[str, Any]]], *, as_json: bool) -> None:
    """One line per tenant naming the first bad sequence number; exit status 1 if any is invalid."""
    if as_json:
        command.stdout.write(json.dumps({t.slug: r for t, r in reports}, indent=2))
    bad = []
    for tenant, report in reports:
        if report["valid"]:
            line = f"{tenant.slug}: valid, {report['totalEntries']} entries, root {report.get('rootHash')}"
            if not as_json:
                command.stdout.write(line)
            continue
        bad.append(tenant.slug)
        first = report["errors"][0] if report["errors"] else {}
        command.stderr.write(f"{tenant.slug}: INVALID, first bad sequence {first.get('sequenceNumber')}: "
                             f"{first.get('error')} ({report['errorCount']} problem(s), last verified "
                             f"{report['lastVerifiedSequence']})")
    if bad:
        raise CommandError(f"ledger verification failed for: {', '.join(bad)}")
