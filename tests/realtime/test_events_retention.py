"""Event-log retention (``realtime.services.events_prune``): by count and by age per tenant,
configurable, and only ever a prefix of the log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from realtime.models import Event
from realtime.selectors import event_stream_head_of, events_after
from realtime.services import events_prune
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def _seqs(tenant: Any) -> list[int]:
    return list(Event.objects.filter(tenant=tenant).order_by("seq").values_list("seq", flat=True))


def _age(tenant: Any, seqs: list[int], seconds: int) -> None:
    Event.objects.filter(tenant=tenant, seq__in=seqs).update(created_at=timezone.now() - timedelta(seconds=seconds))


def test_keeps_the_newest_count_per_tenant(tenant, other_tenant, settings):
    # given
    settings.MAESTRO_EVENT_RETENTION_COUNT = 3
    settings.MAESTRO_EVENT_RETENTION_SECONDS = 3600
    for name in ("A", "B", "C"):
        make_project(tenant, name)
    make_project(other_tenant, "X")
    head = event_stream_head_of(tenant.pk)
    other_head = event_stream_head_of(other_tenant.pk)
    other_before = _seqs(other_tenant)

    # when
    deleted = events_prune()

    # then
    assert _seqs(tenant) == [head - 2, head - 1, head]
    assert _seqs(other_tenant) == [s for s in other_before if s > other_head - 3]
    assert deleted == (head - 3) + (len(other_before) - len(_seqs(other_tenant)))
    # the counter is untouched: seqs continue, never reused
    make_project(tenant, "D")
    assert _seqs(tenant)[-1] == head + 2


def test_drops_events_older_than_the_age_limit(tenant, settings):
    # given: the first two commits are two hours old
    settings.MAESTRO_EVENT_RETENTION_COUNT = 1000
    settings.MAESTRO_EVENT_RETENTION_SECONDS = 3600
    before = event_stream_head_of(tenant.pk)
    for name in ("Old 1", "Old 2", "New"):
        make_project(tenant, name)
    _age(tenant, [s for s in _seqs(tenant) if s <= before + 4], 7200)

    # when
    events_prune()

    # then
    assert _seqs(tenant) == [before + 5, before + 6]


def test_prunes_only_a_prefix_when_clocks_disagree(tenant, settings):
    # given: a newer seq written by a host whose clock is behind (older created_at than its
    # predecessor); an age-only delete would leave a hole at before+1..before+2 kept
    settings.MAESTRO_EVENT_RETENTION_COUNT = 1000
    settings.MAESTRO_EVENT_RETENTION_SECONDS = 3600
    before = event_stream_head_of(tenant.pk)
    for name in ("A", "B", "C"):
        make_project(tenant, name)
    _age(tenant, [before + 3, before + 4], 7200)

    # when
    events_prune()

    # then: everything up to the newest expired seq goes, nothing after it
    assert _seqs(tenant) == [before + 5, before + 6]
    page = events_after(tenant_id=tenant.pk, after_seq=before + 4, limit=10)
    assert [e.seq for e in page.events] == [before + 5, before + 6]
    assert events_after(tenant_id=tenant.pk, after_seq=before + 1, limit=10).resync_required


def test_nothing_to_prune(tenant, settings):
    settings.MAESTRO_EVENT_RETENTION_COUNT = 1000
    settings.MAESTRO_EVENT_RETENTION_SECONDS = 3600
    make_project(tenant)
    kept = _seqs(tenant)
    assert events_prune() == 0
    assert _seqs(tenant) == kept


def test_prunes_in_bounded_batches(tenant, settings, monkeypatch):
    # given
    from realtime import services

    monkeypatch.setattr(services, "PRUNE_BATCH", 2)
    settings.MAESTRO_EVENT_RETENTION_COUNT = 1
    settings.MAESTRO_EVENT_RETENTION_SECONDS = 3600
    for name in ("A", "B", "C"):
        make_project(tenant, name)
    head = event_stream_head_of(tenant.pk)

    # when
    deleted = events_prune()

    # then
    assert _seqs(tenant) == [head]
    assert deleted == head - 1

