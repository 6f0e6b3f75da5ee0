"""The dashboard's charts: runs finished per 5 minutes by outcome, and ledger entries
sequenced per 5 minutes from the checkpoints, over the last hour."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ledger.models import Checkpoint
from orchestration.runs.models import Run
from orchestration.ui.charts import HEIGHT, ledger_throughput, run_outcomes, step_latency, step_outcomes

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(minute=42, second=30, microsecond=0)


def finished(tenant, status: str, minutes_ago: float, *, now=NOW) -> None:
    at = now - timedelta(minutes=minutes_ago)
    Run.objects.create(tenant=tenant, pipeline="p", status=status, created_at=at, updated_at=at, completed_at=at)


def test_runs_are_counted_per_five_minutes_by_outcome_over_the_last_hour(tenant, other_tenant):
    finished(tenant, "succeeded", 1)    # 12 buckets end at :40; NOW is :42:30
    finished(tenant, "succeeded", 2)
    finished(tenant, "failed", 2)
    finished(tenant, "cancelled", 12)   # :30:30 → the :30 bucket
    finished(tenant, "succeeded", 70)   # older than the hour
    finished(other_tenant, "failed", 1)  # another tenant's
    Run.objects.create(tenant=tenant, pipeline="p", status="running", created_at=NOW, updated_at=NOW)

    chart = run_outcomes(tenant=tenant, now=NOW)

    labels = [bar["label"] for bar in chart["bars"]]
    assert len(labels) == 12 and labels[-1] == NOW.strftime("%H:40")
    assert labels[0] == (NOW - timedelta(minutes=55)).strftime("%H:45")
    last, at_30 = chart["bars"][-1], chart["bars"][-3]
    assert {s["series"]: s["value"] for s in last["segments"]} == {"succeeded": 2, "failed": 1}
    assert {s["series"]: s["value"] for s in at_30["segments"]} == {"cancelled": 1}
    assert (chart["total"], chart["max"]) == (4, 3)
    # the tallest bar fills the chart, stacked bottom-up
    heights = [s["height"] for s in last["segments"]]
    assert round(sum(heights)) == HEIGHT - 4 and last["segments"][0]["y"] + heights[0] == HEIGHT


def test_ledger_throughput_is_the_growth_of_the_checkpoints_tree_size(tenant):
    for minutes_ago, size in ((90, 100), (17, 130), (16, 150), (1, 400)):
        Checkpoint.objects.create(tenant=tenant, tree_size=size, root_hash="0" * 64, signature="s", key_id="k",
                                  timestamp=NOW - timedelta(minutes=minutes_ago))

    chart = ledger_throughput(tenant=tenant, now=NOW)

    values = [bar["total"] for bar in chart["bars"]]
    assert values[-1] == 250 and values[-4] == 50 and sum(values) == 300


def test_the_dashboard_draws_both_charts(tenant, client):
    from django.contrib.auth import get_user_model

    finished(tenant, "failed", 1, now=timezone.now())  # the page draws the hour up to the real now
    client.force_login(get_user_model().objects.create_superuser("root", "", "x"))
    html = client.get("/").content.decode()
    assert 'id="chart-runs"' in html and 'id="chart-ledger"' in html and '<rect class="bar failed"' in html


def test_steps_are_counted_by_outcome_and_their_mean_duration_per_five_minutes(tenant):
    from orchestration.engine.models import RunStep

    run = Run.objects.create(tenant=tenant, pipeline="p", status="running", created_at=NOW, updated_at=NOW)

    def step(name: str, status: str, minutes_ago: float, took_ms: int) -> None:
        end = NOW - timedelta(minutes=minutes_ago)
        RunStep.objects.create(tenant=tenant, run=run, step_id=name, action="noop", status=status,
                               started_at=end - timedelta(milliseconds=took_ms), finished_at=end)

    step("a", "succeeded", 1, 100)
    step("b", "succeeded", 2, 300)
    step("c", "dead", 2, 50)
    step("d", "succeeded", 12, 40)
    step("e", "succeeded", 90, 999)   # older than the hour

    outcomes = step_outcomes(tenant=tenant, now=NOW)
    latency = step_latency(tenant=tenant, now=NOW)

    assert {s["series"]: s["value"] for s in outcomes["bars"][-1]["segments"]} == {"succeeded": 2, "dead": 1}
    assert outcomes["total"] == 4
    last, at_30 = latency["bars"][-1], latency["bars"][-3]
    assert (last["total"], last["slowest"]) == (200, 300)  # the mean of 100 and 300 ms; the dead step not counted
    assert (at_30["total"], at_30["slowest"]) == (40, 40)


def test_the_dashboard_draws_the_step_charts(tenant, client):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_superuser("root", "", "x"))
    html = client.get("/").content.decode()
    assert 'id="chart-steps"' in html and 'id="chart-latency"' in html
    assert 'Runs finished per 5 min <span class="sub">(0 in all)</span>' in html
