"""The engine's Prometheus metrics: step transitions by status, step durations, retries and dead
letters, counted by the process that made them (each worker exports its own; Prometheus sums
them), and the runs and steps by status, read from the database at scrape time
(:class:`EngineCollector`, registered with the other collectors in ``/metrics``)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

STEP_TRANSITIONS = Counter("maestro_engine_step_transitions", "Step transitions by the status entered", ["status"])
STEP_DURATION = Histogram("maestro_engine_step_duration_seconds", "Step execution time (start to finish)",
                          ["action"], buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800))
STEP_RETRIES = Counter("maestro_engine_step_retries", "Step executions that failed and were retried")
DEAD_LETTERS = Counter("maestro_engine_dead_letters", "Steps that exhausted their retries")
RUNS_FINISHED = Counter("maestro_engine_runs_finished", "Runs finished by the engine, by status", ["status"])


def step_moved(before: str, to: str) -> None:
    STEP_TRANSITIONS.labels(status=to).inc()


def step_duration(step: Any, now: datetime) -> None:
    if step.started_at is not None:
        STEP_DURATION.labels(action=step.action).observe(max(0.0, (now - step.started_at).total_seconds()))


def step_retried(step: Any) -> None:
    STEP_RETRIES.inc()


def dead_letter() -> None:
    DEAD_LETTERS.inc()


def run_finished(status: str) -> None:
    RUNS_FINISHED.labels(status=status).inc()


class EngineCollector(Collector):
    """Runs and steps by status (all tenants), from the database at scrape time."""

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # registering must not query the database (Django is still starting)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Count

        from orchestration.engine.models import RunStep
        from orchestration.runs.models import Run

        runs = GaugeMetricFamily("maestro_runs", "Runs by status", labels=["status"])
        steps = GaugeMetricFamily("maestro_run_steps", "Run steps by status", labels=["status"])
        try:
            run_counts = dict(Run.objects.values_list("status").annotate(n=Count("id")).order_by())
            step_counts = dict(RunStep.objects.values_list("status").annotate(n=Count("id")).order_by())
        except Exception:  # a scrape must not fail because the database is down: /readyz says so
            log.warning("engine metrics unavailable", extra={"event": "metrics.engine_failed"})
            return
        for status in Run.Status.values:
            runs.add_metric([status], float(run_counts.get(status, 0)))
        for status in RunStep.Status.values:
            steps.add_metric([status], float(step_counts.get(status, 0)))
        yield runs
        yield steps


@functools.cache
def register() -> None:
    """Once per process (a second registration of the same collector would raise)."""
    REGISTRY.register(EngineCollector())
