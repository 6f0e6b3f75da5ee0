"""Ledger metrics, exposed at /metrics by django-prometheus.

Counters and histograms are per process (the sequencer's work); backlog, chain height, archive
lag and the last verification are read from the database at scrape time, so every web replica
reports the same truth instead of whatever its own process last saw."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

ENTRIES_SEQUENCED = Counter("maestro_ledger_entries_sequenced_total", "Ledger entries sequenced by this process")
BATCH_SIZE = Histogram("maestro_ledger_batch_size", "Entries per sequencer batch",
                       buckets=(1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 20000))
BATCH_DURATION = Histogram("maestro_ledger_batch_duration_seconds", "Wall time of one sequencer batch",
                           buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
ARCHIVE_SEGMENTS = Counter("maestro_ledger_archive_segments_total", "Archive segments written by this process")
ARCHIVE_FAILURES = Counter("maestro_ledger_archive_failures_total", "Failed archive attempts (retried)")


def observe_batch(count: int, seconds: float) -> None:
    ENTRIES_SEQUENCED.inc(count)
    BATCH_SIZE.observe(count)
    BATCH_DURATION.observe(seconds)


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
        from ledger.selectors import ledger_status

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


_registered = False


def register() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(LedgerCollector())
        _registered = True
