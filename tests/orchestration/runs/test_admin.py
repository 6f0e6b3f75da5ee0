from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from tests.factories import make_run

pytestmark = pytest.mark.django_db

ADMIN = "/admin/orchestration"


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_cancel_run_action(staff, tenant):
    from orchestration.runs.models import Run

    # given
    running = make_run(tenant, status="running")
    done = make_run(tenant, status="succeeded")

    # when
    r = staff.post(f"{ADMIN}/run/", {"action": "cancel_runs", "_selected_action": [running.pk, done.pk]},
                   follow=True)

    # then
    assert dict(Run.objects.values_list("id", "status")) == {running.id: "cancelled", done.id: "succeeded"}
    assert len(messages_of(r)) == 2
