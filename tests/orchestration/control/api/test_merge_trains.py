from __future__ import annotations

import pytest

from tests.factories import SYSTEM

pytestmark = pytest.mark.django_db


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
