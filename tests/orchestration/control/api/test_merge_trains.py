from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from maestro.write_path.models import AuditEvent
from orchestration.runs.models import Run
from tests.factories import SYSTEM, make_run
from tests.orchestration.control.helpers import Mark

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
                                   {"offset": "x"}])
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


def test_run_services_create_and_move_by_compare_and_set(tenant):
    from maestro.core.exceptions import Conflict
    from orchestration.runs.services import run_create, run_transition

    # given
    mark = Mark(tenant)
    run, created = run_create(tenant=tenant, actor=SYSTEM, pipeline="deploy", idempotency_key="k1")
    again, created_again = run_create(tenant=tenant, actor=SYSTEM, pipeline="deploy", idempotency_key="k1")

    # when
    run_transition(tenant=tenant, actor=SYSTEM, run_id=run.id, to="running")
    done = run_transition(tenant=tenant, actor=SYSTEM, run_id=run.id, to="failed", error_message="boom")

    # then
    assert (created, created_again, again.id) == (True, False, run.id)
    assert (done.status, done.error_message, done.duration_ms is not None) == ("failed", "boom", True)
    assert mark.event_types() == ["audit:created", "run:created", "audit:created", "run:updated",
                                  "audit:created", "run:updated"]
    with pytest.raises(Conflict):
        run_transition(tenant=tenant, actor=SYSTEM, run_id=run.id, to="running")
    assert Run.objects.get(pk=run.id).status == "failed"


def test_audit_log_is_newest_first_in_the_old_shape(api_client, seeded):
    # given
    api_client.post("/api/maestro/autonomic/loops/safety-sentinel/toggle", {"status": "active"}, format="json",
                    HTTP_X_REQUEST_ID="req-audit-1")

    # when
    r = api_client.get("/api/maestro/audit/log")

    # then
    first = r.json()[0]
    assert {k: first[k] for k in ("actor", "action", "resource", "details", "status", "policyId", "requestId")} == {
        "actor": "olivia", "action": "loop.set_status", "resource": "safety-sentinel",
        "details": "Set loop safety-sentinel to active", "status": "allowed", "policyId": None,
        "requestId": "req-audit-1"}
    stamps = [row["timestamp"] for row in r.json()]
    assert stamps == sorted(stamps, reverse=True)


def test_audit_log_is_not_capped_at_the_old_1000_rows(api_client, tenant):
    # given: 1,200 rows (the old service dropped everything past 1,000)
    now = timezone.now()
    AuditEvent.objects.bulk_create([AuditEvent(tenant=tenant, actor="t", action="x", resource=str(n))
                                    for n in range(1200)])
    AuditEvent.objects.filter(tenant=tenant).update(timestamp=now - timedelta(minutes=1))

    # when
    default = api_client.get("/api/maestro/audit/log")
    everything = api_client.get("/api/maestro/audit/log", {"limit": 5000})

    # then
    assert len(default.json()) == 100
    assert 'rel="next"' in default["Link"]
    assert len(everything.json()) == AuditEvent.objects.filter(tenant=tenant).count() >= 1200


def test_audit_log_cursor_pages_through_everything_once(api_client, tenant):
    # given
    AuditEvent.objects.bulk_create([AuditEvent(tenant=tenant, actor="t", action="x", resource=str(n))
                                    for n in range(25)])
    total = AuditEvent.objects.filter(tenant=tenant).count()

    # when
    seen, url = [], "/api/maestro/audit/log?limit=10"
    while url:
        r = api_client.get(url)
        seen += [row["id"] for row in r.json()]
        link = r.get("Link")
        url = link[1:link.index(">")] if link else None

    # then
    assert len(seen) == len(set(seen)) == total


def test_audit_log_rejects_a_forged_cursor(api_client, tenant):
    # when
    r = api_client.get("/api/maestro/audit/log", {"cursor": "bm90LWEtY3Vyc29y"})

    # then
    assert r.status_code == 400


def test_merge_train_shape_counts_from_its_pull_requests(api_client, seeded):
    from orchestration.control.services.merge_trains import merge_train_pr_upsert

    # given
    for number, status in ((1234, "running"), (1235, "queued"), (1200, "passed"), (1201, "failed")):
        merge_train_pr_upsert(tenant=seeded, actor=SYSTEM, train_id="mt-main", number=number, title=f"PR {number}",
                              author="alice", status=status, url=f"https://git.example/pr/{number}")

    # when
    r = api_client.get("/api/maestro/merge-trains")

    # then
    assert r.status_code == 200
    assert r.json() == {
        "id": "mt-main", "status": "active", "queueLength": 2, "throughput": 1, "version": 5,
        "activePRs": [
            {"number": 1234, "title": "PR 1234", "author": "alice", "status": "running",
             "url": "https://git.example/pr/1234"},
            {"number": 1235, "title": "PR 1235", "author": "alice", "status": "queued",
             "url": "https://git.example/pr/1235"}]}
    assert r["ETag"] == '"5"'


def test_merge_trains_without_any_train_is_404(api_client, tenant):
    # when
    r = api_client.get("/api/maestro/merge-trains")

    # then
    assert (r.status_code, r.json()["code"]) == (404, "MERGE_TRAIN_NOT_FOUND")


def test_a_pull_request_change_with_a_stale_train_version_is_refused(seeded):
    from maestro.core.exceptions import PreconditionFailed
    from orchestration.control.models.merge_trains import MergeTrainPullRequest
    from orchestration.control.services.merge_trains import merge_train_pr_upsert

    # when / then
    with pytest.raises(PreconditionFailed):
        merge_train_pr_upsert(tenant=seeded, actor=SYSTEM, train_id="mt-main", number=1, title="x",
                              expected_version=9)
    assert MergeTrainPullRequest.objects.count() == 0
