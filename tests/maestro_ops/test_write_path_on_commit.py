"""A service called from an on-commit callback (an eager job in the embedded default) opens a
unit of its own: its events are stored and get their seqs."""

import pytest
from django.db import transaction

from maestro.write_path import record, service
from realtime.models import Event
from tests.factories import SYSTEM


@pytest.mark.django_db(transaction=True)
def test_service_in_on_commit_callback_records_its_events(tenant):
    from orchestration.services.projects import project_create

    # when: a unit whose commit triggers another service call
    with service():
        record(tenant=tenant, actor=SYSTEM, action="test.first", resource_type="test", resource_id="1",
               event=("test:first", {"n": 1}))
        transaction.on_commit(lambda: project_create(tenant=tenant, actor=SYSTEM, name="from callback"))
    # then: both units' events are in the log, gapless
    types = list(Event.objects.filter(tenant=tenant).exclude(type="ledger:checkpoint").order_by("seq")
                 .values_list("type", flat=True))
    assert types[-4:] == ["audit:created", "test:first", "audit:created", "project:created"]
    seqs = list(Event.objects.filter(tenant=tenant).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
