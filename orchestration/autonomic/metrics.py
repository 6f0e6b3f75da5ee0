"""Prometheus figures of the loops in this process (exported on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TICK_DURATION = Histogram("maestro_loop_tick_duration_seconds", "Wall time of one autonomic loop tick",
                          ["type"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
DECISIONS = Counter("maestro_loop_decisions_total", "Decisions recorded by autonomic loop ticks",
                    ["type", "action"])
