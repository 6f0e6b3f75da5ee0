"""Charts the operators' pages draw as inline SVG from Maestro's own rows: the figures are
read here (one grouped query each), the geometry is computed here, the template only draws."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncMinute
from django.utils import timezone

from ledger.selectors import checkpoints_list
from maestro.tenancy.models import Tenant
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


def run_outcomes(*, tenant: Tenant, now: datetime | None = None) -> dict[str, Any]:
    """Runs finished per 5 minutes over the last hour, by outcome."""
    buckets = _buckets(now or timezone.now())
    series: dict[str, list[int]] = {str(status): [0] * len(buckets) for status in OUTCOMES}
    rows = (Run.objects.filter(tenant=tenant, status__in=OUTCOMES, completed_at__gte=buckets[0])
            .annotate(minute=TruncMinute("completed_at")).values("minute", "status").annotate(n=Count("id")))
    for row in rows:
        i = _index(buckets, row["minute"])
        if i is not None:
            series[row["status"]][i] += row["n"]
    return stacked_bars(buckets, series)


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
