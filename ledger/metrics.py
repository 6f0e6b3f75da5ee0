"""Counters and histograms of the ledger's work in this process (the sequencer's batches,
the archiver's segments). The gauges read from the database at scrape time (backlog, chain
height, archive lag, last verification) are in :mod:`ledger.status`."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
