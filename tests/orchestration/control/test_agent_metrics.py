"""Agent metrics are counted from the agent's finished runs of the window (DESIGN §7.2)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orchestration.control.agent_metrics import NO_RUNS, AgentMetrics, agent_metrics
from tests.factories import make_run

pytestmark = pytest.mark.django_db


def test_metrics_count_the_agents_finished_runs_of_the_window(seeded):
    # given: coder ran 20 runs in the last hour (2 failed), durations 100..2000 ms, costs 0.1/0.3
    for i in range(20):
        make_run(seeded, executor_id="coder", status="failed" if i < 2 else "succeeded",
                 duration_ms=(i + 1) * 100, cost=0.1 if i % 2 else 0.3, minutes_ago=30)
    # and runs that do not count: cancelled, still running, too old, another agent's, no agent
    make_run(seeded, executor_id="coder", status="cancelled", duration_ms=99_999, cost=9)
    make_run(seeded, executor_id="coder", status="running")
    make_run(seeded, executor_id="coder", status="failed", minutes_ago=90, cost=9)
    make_run(seeded, executor_id="planner", status="failed", duration_ms=7000, cost=1.5)
    make_run(seeded, status="failed")

    # when
    metrics = agent_metrics(tenant_id=seeded.pk, agent_ids=["coder", "planner", "reviewer"])

    # then: p95 is the nearest rank (the 19th of 20 ordered durations), cost the mean
    assert metrics == {
        "coder": AgentMetrics(runs=20, failed=2, success_rate=90.0, latency_p95=1900.0, cost_per_task=0.2),
        "planner": AgentMetrics(runs=1, failed=1, success_rate=0.0, latency_p95=7000.0, cost_per_task=1.5),
    }
    assert metrics["coder"].failure_rate == 0.1


def test_an_agent_without_runs_shows_neutral_numbers(api_client, seeded):
    # when
    r = api_client.get("/api/maestro/agents/reviewer")

    # then
    assert r.json()["metrics"] == {"successRate": 100.0, "latencyP95": 0.0, "costPerTask": 0.0, "sampleSize": 0}
    assert NO_RUNS.runs == 0


def test_the_api_shows_computed_metrics_in_the_old_shape(api_client, seeded):
    # given
    make_run(seeded, executor_id="coder", status="succeeded", duration_ms=400, cost=0.5)
    make_run(seeded, executor_id="coder", status="failed", duration_ms=800, cost=0.25)

    # when
    one = api_client.get("/api/maestro/agents/coder").json()
    listed = {a["id"]: a for a in api_client.get("/api/maestro/agents").json()}

    # then
    expected = {"successRate": 50.0, "latencyP95": 800.0, "costPerTask": 0.375, "sampleSize": 2}
    assert one["metrics"] == expected
    assert listed["coder"]["metrics"] == expected
    assert listed["planner"]["metrics"]["sampleSize"] == 0


def test_the_window_is_a_setting(api_client, seeded, settings):
    # given: a run 50 minutes ago, outside a 30-minute window
    settings.MAESTRO_AGENT_METRICS_WINDOW_SECONDS = 1800
    make_run(seeded, executor_id="coder", status="failed", minutes_ago=50)

    # when
    r = api_client.get("/api/maestro/agents/coder")

    # then
    assert r.json()["metrics"]["sampleSize"] == 0


def test_a_list_counts_every_agents_metrics_in_one_grouped_query(api_client, seeded):
    # given: runs for every agent
    for agent in ("planner", "coder", "reviewer"):
        make_run(seeded, executor_id=agent, status="succeeded", duration_ms=100, cost=0.1)

    # when
    with CaptureQueriesContext(connection) as queries:
        r = api_client.get("/api/maestro/agents")

    # then: one grouped query (the embedded SQLite default reads the durations in a second one,
    # having no percentile aggregate), however many agents the page holds
    assert r.status_code == 200
    expected = 1 if connection.vendor == "postgresql" else 2
    assert len([q for q in queries.captured_queries if "orchestration_run" in q["sql"]]) == expected
