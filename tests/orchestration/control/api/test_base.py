"""What every /api/maestro/ control view shares (orchestration.control.api.base): the version
as ETag, If-Match or a body ``version`` for writes, JSON bodies."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_workers")]


def test_single_objects_carry_their_version_as_etag(api_client, seeded):
    # when / then
    for path in ("agents/coder", "autonomic/loops/cost-optimization", "merge-trains/mt-main", "experiments/exp-001",
                 "playbooks/pb-restart-pods"):
        r = api_client.get(f"/api/maestro/{path}")
        assert r["ETag"] == f'"{r.json()["version"]}"', path


def test_a_version_of_the_wrong_type_is_400(api_client, seeded):
    # when
    r = api_client.post("/api/maestro/autonomic/loops/safety-sentinel/toggle", {"status": "active", "version": "1"},
                        format="json")

    # then
    assert r.status_code == 400
    assert r.json()["message"] == "version: A valid integer is required."


def test_malformed_json_is_400(api_client, seeded):
    # when
    r = api_client.generic("POST", "/api/maestro/autonomic/loops/safety-sentinel/toggle", "{status:",
                           content_type="application/json")

    # then
    assert r.status_code == 400
    assert r.json()["code"] == "VALIDATION_ERROR"
