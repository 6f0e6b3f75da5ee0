"""Agent metrics, counted from the runs each agent executed (DESIGN §7.2): never stored
constants. A run is an agent's when its ``executor_id`` is the agent's id (its slug, as
``POST runs`` names it). A read, beside the representations that show it (which the selectors
package may not import)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Aggregate, Avg, Count, FloatField, Q
from django.utils import timezone

from orchestration.runs.models import Run

# The runs that say how an agent does: a cancelled run is an operator's decision, not the
# agent's success or failure, so it counts in none of the figures (as in the dashboard's
# successRate).
OUTCOMES = (Run.Status.SUCCEEDED, Run.Status.FAILED)


@dataclass(frozen=True)
class AgentMetrics:
    """An agent's figures over its finished runs of the window. With no such run: 100 % success,
    0 ms, 0 cost (``runs == 0`` says there was nothing to count). Numbers rather than nulls,
    because old clients format them as numbers; the loops never act on an agent with fewer than
    their ``minRuns``, so these neutral values never move traffic."""

    runs: int = 0
    failed: int = 0
    success_rate: float = 100.0
    latency_p95: float = 0.0
    cost_per_task: float = 0.0

    @property
    def failure_rate(self) -> float:
        return self.failed / self.runs if self.runs else 0.0


NO_RUNS = AgentMetrics()


def metrics_window() -> timedelta:
    return timedelta(seconds=settings.MAESTRO_AGENT_METRICS_WINDOW_SECONDS)


class _P95(Aggregate):
    """PostgreSQL's nearest-rank 95th percentile: the first value at or past 95 % of the
    ordered values (the SLO's p95 counts the same way)."""

    function = "PERCENTILE_DISC"
    template = "%(function)s(0.95) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def agent_metrics(*, tenant_id: int, agent_ids: Iterable[str] | None = None, window: timedelta | None = None,
                  now: datetime | None = None) -> dict[str, AgentMetrics]:
    """The metrics of the named agents (all executors with runs when ``agent_ids`` is None),
    over their runs that finished in ``window`` (``MAESTRO_AGENT_METRICS_WINDOW_SECONDS`` by
    default), in one grouped query. Agents without runs are absent: callers use :data:`NO_RUNS`."""
    now = now or timezone.now()
    runs = Run.objects.filter(tenant_id=tenant_id, status__in=OUTCOMES,
                              completed_at__gte=now - (window or metrics_window()), completed_at__lte=now)
    if agent_ids is not None:
        ids = list(agent_ids)
        if not ids:
            return {}
        runs = runs.filter(executor_id__in=ids)
    else:
        runs = runs.exclude(executor_id="")
    postgres = connection.vendor == "postgresql"
    grouped = runs.order_by().values("executor_id").annotate(
        n=Count("id"), bad=Count("id", filter=Q(status=Run.Status.FAILED)), cost=Avg("cost"),
        **({"p95": _P95("duration_ms", filter=Q(duration_ms__isnull=False))} if postgres else {}))
    rows: dict[str, dict[str, Any]] = {row["executor_id"]: dict(row) for row in grouped}
    if not postgres:  # the embedded SQLite default has no percentile aggregate
        durations: dict[str, list[int]] = {}
        for executor, ms in runs.filter(executor_id__in=list(rows), duration_ms__isnull=False).order_by(
                "executor_id", "duration_ms").values_list("executor_id", "duration_ms"):
            durations.setdefault(executor, []).append(int(ms or 0))  # nulls are filtered out
        for executor, row in rows.items():
            values = durations.get(executor, [])
            row["p95"] = values[math.ceil(0.95 * len(values)) - 1] if values else None
    return {executor: AgentMetrics(
        runs=row["n"], failed=row["bad"], success_rate=round((row["n"] - row["bad"]) / row["n"] * 100, 2),
        latency_p95=float(row["p95"] or 0.0), cost_per_task=round(float(row["cost"] or 0.0), 6),
    ) for executor, row in rows.items()}
