"""/api/maestro/runs: the run list and detail in the old row shape."""

from __future__ import annotations

import pytest

from tests.factories import make_run

pytestmark = pytest.mark.django_db


def test_runs_list_is_newest_first_in_the_old_row_shape(api_client, tenant):
    # given
    old = make_run(tenant, status="succeeded", minutes_ago=10, duration_ms=1234, cost=0.25)
    new = make_run(tenant, status="running", minutes_ago=1)

    # when
    r = api_client.get("/api/maestro/runs")

    # then
    assert r.status_code == 200
    assert [row["id"] for row in r.json()] == [new.id, old.id]
    row = r.json()[1]
    assert set(row) == {"id", "pipeline_id", "pipeline", "status", "started_at", "completed_at", "duration_ms",
                        "cost", "input_params", "output_data", "error_message", "failure_details", "executor_id",
                        "created_at", "updated_at", "tenant_id"}
    assert (row["pipeline"], row["status"], row["duration_ms"], row["cost"], row["tenant_id"]) == (
        "build", "succeeded", 1234, 0.25, "default")
    assert row["created_at"].endswith("Z")


def test_runs_limit_and_offset(api_client, tenant):
    # given
    runs = [make_run(tenant, minutes_ago=60 - n) for n in range(60)]  # runs[-1] is the newest

    # when
    default = api_client.get("/api/maestro/runs")
    page = api_client.get("/api/maestro/runs", {"limit": 2, "offset": 3})

    # then
    assert len(default.json()) == 50
    assert [row["id"] for row in page.json()] == [runs[-4].id, runs[-5].id]


@pytest.mark.parametrize("query", [{"limit": "ten"}, {"limit": 0}, {"limit": 6000}, {"offset": -1},
                                   {"offset": "x"}, {"offset": "99999999999999999999"}, {"limit": "1e3"},
                                   {"offset": "١٢"}])
def test_bad_paging_is_400(api_client, tenant, query):
    # when
    r = api_client.get("/api/maestro/runs", query)

    # then
    assert r.status_code == 400
    assert r.json()["code"] == "VALIDATION_ERROR"


def test_run_detail_and_404(api_client, other_client, tenant):
    # given
    run = make_run(tenant)

    # when
    found = api_client.get(f"/api/maestro/runs/{run.id}")
    missing = api_client.get("/api/maestro/runs/nope")
    foreign = other_client.get(f"/api/maestro/runs/{run.id}")

    # then
    assert found.json()["id"] == run.id
    assert (missing.status_code, missing.json()["code"]) == (404, "RUN_NOT_FOUND")
    assert foreign.status_code == 404
