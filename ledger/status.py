"""The ledger's own status, per tenant: backlog, chain height, archive lag and the last
verifications. Read from the database, so every process reports the same truth: the health
snapshot asks it (orchestration.health) and ``/metrics`` exports it at scrape time."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from typing import Any

from django.db.models import Count, Max, Min
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ledger.models import ArchiveSegment, IntakeEntry, LedgerEntry, TenantHead, VerificationRun
from maestro.core.compiled import CompiledValues

log = logging.getLogger(__name__)


def ledger_status() -> list[dict[str, Any]]:
    """Per tenant: backlog, height, archive lag (entries and seconds), last verifications. For
    /metrics and the health workstreams; a handful of grouped queries, whatever the size."""
    slugs = dict(TenantHead.objects.values_list("tenant_id", "tenant__slug"))
    slugs.update(IntakeEntry.objects.values_list("tenant_id", "tenant__slug").distinct())
    backlogs = dict(IntakeEntry.objects.values_list("tenant_id").annotate(n=Count("pk_id"))
                    .values_list("tenant_id", "n"))
    heights = dict(TenantHead.objects.values_list("tenant_id", "sequence_number"))
    archived = dict(ArchiveSegment.objects.values_list("tenant_id").annotate(m=Max("last_sequence"))
                    .values_list("tenant_id", "m"))
    now = timezone.now()
    runs: dict[int, dict[str, dict[str, Any]]] = {}
    for run in _latest_runs():
        runs.setdefault(run.tenant_id, {})[run.kind] = {"valid": run.valid, "finishedAt": run.finished_at.timestamp()}
    out = []
    for tenant_id in sorted(set(backlogs) | set(heights)):
        h = heights.get(tenant_id, 0)
        done = archived.get(tenant_id, 0)
        lag_seconds = 0.0
        if h > done:
            oldest = LedgerEntry.objects.filter(tenant_id=tenant_id, sequence_number=done + 1) \
                .aggregate(t=Min("timestamp"))["t"]
            lag_seconds = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
        out.append({"tenantId": tenant_id, "tenant": slugs.get(tenant_id, str(tenant_id)),
                    "backlog": backlogs.get(tenant_id, 0), "height": h, "archivedThrough": done,
                    "archiveLagEntries": h - done, "archiveLagSeconds": lag_seconds,
                    "lastVerification": runs.get(tenant_id, {})})
    return out


def _latest_runs() -> list[VerificationRun]:
    latest = (VerificationRun.objects.values("tenant_id", "kind").annotate(last=Max("pk_id"))
              .values_list("last", flat=True))
    return list(VerificationRun.objects.filter(pk_id__in=list(latest)))


def tenant_backlog(*, tenant_id: int) -> dict[str, Any]:
    """The sequencer's backlog for one tenant: intake rows not yet chained (the intake table
    holds only those) and the age in seconds of the oldest."""
    n, oldest = _BACKLOG.first((0, None), tenant_id=tenant_id)
    age = max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0
    return {"backlog": n, "oldestUnsequencedAgeSeconds": round(age, 3)}


# Asked by every dashboard and health read: compiled once per process (maestro/core/compiled.py).
_BACKLOG = CompiledValues(lambda tenant_id: IntakeEntry.objects.filter(tenant_id=tenant_id).order_by()
                          .values("tenant_id").annotate(n=Count("pk_id"), oldest=Min("timestamp"))
                          .values_list("n", "oldest"), tenant_id=-7_400_002)


def _families() -> dict[str, GaugeMetricFamily]:
    return {
        "backlog": GaugeMetricFamily("maestro_ledger_intake_backlog", "Appended, not yet sequenced entries",
                                     labels=["tenant"]),
        "height": GaugeMetricFamily("maestro_ledger_chain_height", "Sequenced entries (chain height)",
                                    labels=["tenant"]),
        "lag_entries": GaugeMetricFamily("maestro_ledger_archive_lag_entries", "Sequenced entries not yet archived",
                                         labels=["tenant"]),
        "lag_seconds": GaugeMetricFamily("maestro_ledger_archive_lag_seconds",
                                         "Age of the oldest sequenced entry not yet archived", labels=["tenant"]),
        "verify_valid": GaugeMetricFamily("maestro_ledger_last_verification_valid",
                                          "1 if the last verification passed, 0 if it failed",
                                          labels=["tenant", "kind"]),
        "verify_time": GaugeMetricFamily("maestro_ledger_last_verification_timestamp_seconds",
                                         "When the last verification finished", labels=["tenant", "kind"]),
    }


class LedgerCollector(Collector):
    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Declared so registering does not call collect() (no database at import time).
        yield from _families().values()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = _families()
        try:
            status = ledger_status()
        except Exception:  # a scrape reports what it can; it never fails /metrics
            log.warning("ledger metrics unavailable", exc_info=True, extra={"event": "ledger.metrics_failed"})
            return
        for row in status:
            slug = row["tenant"]
            families["backlog"].add_metric([slug], row["backlog"])
            families["height"].add_metric([slug], row["height"])
            families["lag_entries"].add_metric([slug], row["archiveLagEntries"])
            families["lag_seconds"].add_metric([slug], row["archiveLagSeconds"])
            for kind, run in row["lastVerification"].items():
                families["verify_valid"].add_metric([slug, kind], 1 if run["valid"] else 0)
                families["verify_time"].add_metric([slug, kind], run["finishedAt"])
        yield from families.values()


@functools.cache
def register() -> None:
    """Once per process (a second registration of the same metric names would raise)."""
    REGISTRY.register(LedgerCollector())
