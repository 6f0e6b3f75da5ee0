"""A service called from an on-commit callback (an eager job in the embedded default) opens a
unit of its own: its events are stored and get their seqs."""

import pytest
from django.db import transaction

from maestro.write_path.catalogue import Action, Event, Resource
from maestro.write_path.services import record, service
from realtime.models import Event as StoredEvent
from tests.factories import SYSTEM


@pytest.mark.django_db(transaction=True)
def test_service_in_on_commit_callback_records_its_events(tenant):
    from orchestration.work.services.projects import project_create

    # when: a unit whose commit triggers another service call
    with service():
        record(tenant_id=tenant.pk, actor=SYSTEM, action=Action.LOOP_DECISION, resource_type=Resource.LOOP,
               resource_id="l1", event=(Event.LOOP_DECISION, {"n": 1}))
        transaction.on_commit(lambda: project_create(tenant=tenant, actor=SYSTEM, name="from callback"))
    # then: both units' events are in the log, gapless
    types = list(StoredEvent.objects.filter(tenant=tenant).exclude(type="ledger:checkpoint").order_by("seq")
                 .values_list("type", flat=True))
    assert types[-4:] == ["audit:created", "loop:decision", "audit:created", "project:created"]
    seqs = list(StoredEvent.objects.filter(tenant=tenant).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
