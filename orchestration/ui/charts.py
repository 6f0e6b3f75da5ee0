"""Charts the operators' pages draw as inline SVG from Maestro's own rows: the figures are
read here (one grouped query each), the geometry is computed here, the template only draws."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Max, QuerySet
from django.db.models.functions import TruncMinute
from django.utils import timezone

from ledger.selectors import checkpoints_list
from maestro.tenancy.models import Tenant
from orchestration.engine.models import RunStep
from orchestration.engine.representations import GraphOut
from orchestration.runs.models import Run

WINDOW_MINUTES = 60
BUCKET_MINUTES = 5
WIDTH, HEIGHT = 360, 120  # the SVG's own units; it scales to its box
OUTCOMES = (Run.Status.SUCCEEDED, Run.Status.FAILED, Run.Status.CANCELLED)


def _buckets(now: datetime) -> list[datetime]:
    end = now.replace(second=0, microsecond=0) - timedelta(minutes=now.minute % BUCKET_MINUTES)
    count = WINDOW_MINUTES // BUCKET_MINUTES
    return [end - timedelta(minutes=BUCKET_MINUTES * (count - 1 - i)) for i in range(count)]


def _index(buckets: list[datetime], when: datetime) -> int | None:
    offset = int((when - buckets[0]).total_seconds() // (BUCKET_MINUTES * 60))
    return offset if 0 <= offset < len(buckets) else None


def stacked_bars(buckets: list[datetime], series: dict[str, list[int]]) -> dict[str, Any]:
    """Bars per bucket, one segment per series stacked bottom-up, scaled to the tallest bar."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(buckets))]
    top = max(totals, default=0) or 1
    slot = WIDTH / len(buckets)
    bars = []
    for i, bucket in enumerate(buckets):
        y = float(HEIGHT)
        segments = []
        for name, values in series.items():
            height = values[i] / top * (HEIGHT - 4)
            y -= height
            if values[i]:
                segments.append({"series": name, "x": round(i * slot + 2, 1), "y": round(y, 1),
                                 "width": round(slot - 4, 1), "height": round(height, 1), "value": values[i]})
        bars.append({"label": bucket.strftime("%H:%M"), "total": totals[i], "segments": segments})
    return {"bars": bars, "max": max(totals, default=0), "width": WIDTH, "height": HEIGHT,
            "series": list(series), "total": sum(totals)}


def _finished_by_status(qs: QuerySet[Any], *, at: str, statuses: tuple[str, ...],
                        now: datetime | None) -> dict[str, Any]:
    """Rows of ``qs`` that reached one of ``statuses`` at ``at`` in the last hour, per 5 minutes
    and status (one grouped query)."""
    buckets = _buckets(now or timezone.now())
    series: dict[str, list[int]] = {str(status): [0] * len(buckets) for status in statuses}
    rows = (qs.filter(status__in=statuses, **{f"{at}__gte": buckets[0]})
            .annotate(minute=TruncMinute(at)).values("minute", "status").annotate(n=Count("pk")))
    for row in rows:
        i = _index(buckets, row["minute"])
        if i is not None:
            series[row["status"]][i] += row["n"]
    return stacked_bars(buckets, series)


def run_outcomes(*, tenant: Tenant, now: datetime | None = None) -> dict[str, Any]:
    """Runs finished per 5 minutes over the last hour, by outcome."""
    return _finished_by_status(Run.objects.filter(tenant=tenant), at="completed_at", statuses=OUTCOMES, now=now)


STEP_OUTCOMES = (RunStep.Status.SUCCEEDED, RunStep.Status.DEAD, RunStep.Status.CANCELLED)


def step_outcomes(*, tenant: Tenant, now: datetime | None = None) -> dict[str, Any]:
    """Steps finished per 5 minutes over the last hour, by how they ended."""
    return _finished_by_status(RunStep.objects.filter(tenant=tenant), at="finished_at", statuses=STEP_OUTCOMES,
                               now=now)


def step_latency(*, tenant: Tenant, now: datetime | None = None) -> dict[str, Any]:
    """Mean time from start to success of the steps that succeeded, per 5 minutes over the last
    hour, in milliseconds (each bar also knows the slowest step of its 5 minutes)."""
    buckets = _buckets(now or timezone.now())
    took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    totals, counts, slowest = [0.0] * len(buckets), [0] * len(buckets), [0.0] * len(buckets)
    rows = (RunStep.objects.filter(tenant=tenant, status=RunStep.Status.SUCCEEDED, finished_at__gte=buckets[0],
                                   started_at__isnull=False)
            .annotate(minute=TruncMinute("finished_at")).values("minute")
            .annotate(n=Count("id"), mean=Avg(took), longest=Max(took)))
    for row in rows:
        i = _index(buckets, row["minute"])
        if i is not None and row["n"]:
            totals[i] += row["mean"].total_seconds() * 1000 * row["n"]
            counts[i] += row["n"]
            slowest[i] = max(slowest[i], row["longest"].total_seconds() * 1000)
    means = [round(totals[i] / counts[i]) if counts[i] else 0 for i in range(len(buckets))]
    chart = stacked_bars(buckets, {"latency": means})
    for bar, longest in zip(chart["bars"], slowest, strict=True):
        bar["slowest"] = round(longest)
    return chart


def ledger_throughput(*, tenant: Tenant, now: datetime | None = None) -> dict[str, Any]:
    """Entries sequenced per 5 minutes over the last hour, from the growth of the signed
    checkpoints' tree size (no scan of the entries themselves)."""
    buckets = _buckets(now or timezone.now())
    sequenced = [0] * len(buckets)
    checkpoints = list(checkpoints_list(tenant_id=tenant.pk).filter(timestamp__gte=buckets[0])
                       .order_by("tree_size").values_list("timestamp", "tree_size"))
    before = (checkpoints_list(tenant_id=tenant.pk).filter(timestamp__lt=buckets[0]).order_by("-tree_size")
              .values_list("tree_size", flat=True).first()) or 0
    for when, size in checkpoints:
        i = _index(buckets, when)
        if i is not None:
            sequenced[i] += size - before
        before = size
    return stacked_bars(buckets, {"sequenced": sequenced})


NODE_W, NODE_H, GAP_X, GAP_Y = 150, 44, 50, 16


def dag_layout(graph: GraphOut) -> dict[str, Any]:
    """A run's step graph laid out left to right: a step's column is the longest path of
    dependencies before it, its row its place among that column's steps (in the run's order);
    edges go from the right side of a dependency to the left side of its dependent."""
    nodes, edges = graph["nodes"], graph["edges"]
    depends: dict[str, list[str]] = {n["id"]: [] for n in nodes}
    for edge in edges:
        if edge["to"] in depends and edge["from"] in depends:
            depends[edge["to"]].append(edge["from"])
    depth: dict[str, int] = {}

    def depth_of(step: str, seen: frozenset[str] = frozenset()) -> int:
        if step not in depth:  # specs are acyclic (checked at save); `seen` guards old rows anyway
            parents = [p for p in depends[step] if p not in seen]
            depth[step] = 1 + max((depth_of(p, seen | {step}) for p in parents), default=-1)
        return depth[step]

    rows: dict[int, int] = {}
    placed: dict[str, dict[str, Any]] = {}
    for node in nodes:
        column = depth_of(node["id"])
        row = rows.get(column, 0)
        rows[column] = row + 1
        placed[node["id"]] = {**node, "x": column * (NODE_W + GAP_X), "y": row * (NODE_H + GAP_Y)}
    lines = []
    for e in edges:
        if e["from"] in placed and e["to"] in placed:
            x1, y1 = placed[e["from"]]["x"] + NODE_W, placed[e["from"]]["y"] + NODE_H // 2
            x2, y2 = placed[e["to"]]["x"], placed[e["to"]]["y"] + NODE_H // 2
            lines.append({"from": e["from"], "to": e["to"],
                          "path": f"M{x1},{y1} C{x1 + GAP_X // 2},{y1} {x2 - GAP_X // 2},{y2} {x2},{y2}"})
    width = (max(rows, default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    height = max(rows.values(), default=1) * (NODE_H + GAP_Y) - GAP_Y
    return {"nodes": list(placed.values()), "edges": lines, "width": max(width, NODE_W), "height": max(height, NODE_H),
            "nodeWidth": NODE_W, "nodeHeight": NODE_H}
