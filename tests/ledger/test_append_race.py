"""Two appends of one client-chosen entry id, interleaved on PostgreSQL so that the second
looks for the id just before the first commits and the sequencer moves it: the second must
still answer idempotently (not created), and the id must be stored once."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.db import connection, connections

from ledger.models import IntakeEntry, LedgerEntry
from tests.factories import SYSTEM

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def test_an_append_that_looked_before_the_first_committed_is_still_idempotent(tenant, monkeypatch):
    from ledger.sequencer import sequence_tenant
    from ledger.services import entries_append

    entry_id = uuid.uuid4()
    item = {"id": entry_id, "action_type": "deploy.finished", "resource_type": "pipeline", "resource_id": "p1",
            "actor_id": "ci", "actor_type": "job", "payload": {"ok": True}, "metadata": {}}
    looked, go = threading.Event(), threading.Event()
    from ledger import services

    real_insert = services._insert_many

    def insert_after_a_pause(entries: Any) -> None:
        if threading.current_thread().name == "early":
            looked.set()  # it has looked for the id in intake and entries, found nothing
            assert go.wait(10)
        real_insert(entries)

    monkeypatch.setattr(services, "_insert_many", insert_after_a_pause)
    results: dict[str, Any] = {}

    def append(name: str) -> None:
        try:
            results[name] = entries_append(tenant_id=tenant.pk, items=[dict(item)], submitted_by=SYSTEM)[0]
        finally:
            connections.close_all()

    early = threading.Thread(target=append, args=("early",), name="early")
    late = threading.Thread(target=append, args=("late",), name="late")

    # given: one append has looked for the id and not yet inserted it
    early.start()
    assert looked.wait(10)
    # when: a second append of the id runs (without a lock it commits at once), the sequencer
    # moves whatever is in intake, and then the first append goes on
    late.start()
    late.join(timeout=1)
    sequence_tenant(tenant_id=tenant.pk)
    go.set()
    early.join(timeout=20)
    late.join(timeout=20)
    sequence_tenant(tenant_id=tenant.pk)

    # then: one of the two created the entry, the other was answered with it
    assert sorted(created for _row, created in results.values()) == [False, True]
    assert {row.id for row, _created in results.values()} == {entry_id}
    assert LedgerEntry.objects.filter(id=entry_id).count() == 1
    assert not IntakeEntry.objects.filter(id=entry_id).exists()
