from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import SYSTEM, make_run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_workers")]

READS = ["dashboard", "health", "slo", "runs", "agents", "agents/coder", "autonomic/loops",
         "autonomic/loops/cost-optimization", "merge-trains", "merge-trains/mt-main", "experiments",
         "experiments/exp-001", "experiments/exp-001/assignment?entityId=u1", "experiments/exp-001/results",
         "playbooks", "playbooks/pb-restart-pods", "audit/log"]


@pytest.mark.parametrize("path", READS)
def test_every_read_route_answers_a_viewer_and_refuses_anonymous(viewer_client, anon_client, seeded, path):
    # when
    ok = viewer_client.get(f"/api/maestro/{path}")
    anon = anon_client.get(f"/api/maestro/{path}")

    # then
    assert ok.status_code == 200, ok.content
    assert anon.status_code == 401
    assert anon.json()["code"] == "UNAUTHORIZED"


def queries(client, path):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_list_and_dashboard_query_counts_do_not_grow_with_rows(api_client, seeded):
    from orchestration.control.services.experiments import experiment_create
    from orchestration.control.services.loops import loop_record_decision

    # given: one request first, so the token's once-a-minute "last used" write is out of the way
    api_client.get("/api/maestro/agents")
    before = {p: queries(api_client, f"/api/maestro/{p}") for p in ("experiments", "dashboard", "runs", "agents")}
    for n in range(5):
        experiment_create(tenant=seeded, actor=SYSTEM, experiment_id=f"exp-{n}", name=f"E{n}", variants=["a", "b"])
        loop_record_decision(tenant=seeded, actor=SYSTEM, loop_id="cost-optimization", decision=f"d{n}")
    for _ in range(20):
        make_run(seeded, status="failed")

    # when
    after = {p: queries(api_client, f"/api/maestro/{p}") for p in ("experiments", "dashboard", "runs", "agents")}

    # then
    assert after == before


def test_dashboard_query_count_is_pinned(api_client, seeded, django_assert_num_queries):
    # given: a first request (the token's once-a-minute "last used" write out of the way)
    assert api_client.get("/api/maestro/dashboard").status_code == 200
    # then: the token with its membership, and eight reads of health, stats and the loops
    with django_assert_num_queries(9):
        assert api_client.get("/api/maestro/dashboard").status_code == 200
