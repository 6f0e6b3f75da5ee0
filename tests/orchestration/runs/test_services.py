from __future__ import annotations

import pytest

from orchestration.runs.models import Run
from tests.factories import SYSTEM
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db


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
