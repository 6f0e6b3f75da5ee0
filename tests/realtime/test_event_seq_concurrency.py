"""Concurrent writers of one tenant on PostgreSQL: the event log's seqs stay exactly
1..M — no gap, no duplicate — and each commit's events stay adjacent."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from maestro.core.actors import Actor
from realtime.models import Event, EventStream
from realtime.selectors import event_stream_head_of
from tests.realtime.conftest import postgres_only

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, postgres_only]

THREADS = 8
PER_THREAD = 10


def _writers(tenant: Any, threads: int, per_thread: int) -> list[BaseException]:
    from orchestration.work.services.projects import project_create

    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                project_create(tenant=tenant, actor=Actor.job(f"writer-{n}"), name=f"w{n}-{i}")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    return errors


def test_concurrent_writers_get_gapless_unique_seqs(tenant):
    # given
    head = event_stream_head_of(tenant.pk)

    # when
    errors = _writers(tenant, THREADS, PER_THREAD)

    # then
    assert errors == []
    m = THREADS * PER_THREAD * 2
    seqs = list(Event.objects.filter(tenant=tenant, seq__gt=head).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(head + 1, head + m + 1))
    assert event_stream_head_of(tenant.pk) == head + m
    # each commit's two events are adjacent: audit at s, its project at s + 1
    rows = list(Event.objects.filter(tenant=tenant, seq__gt=head).order_by("seq"))
    for audit, created in zip(rows[::2], rows[1::2], strict=True):
        assert (audit.type, created.type) == ("audit:created", "project:created")
        assert audit.data["resource"] == created.data["id"]


def test_first_events_of_a_new_tenant_race_without_error():
    # given: a tenant with no event counter row yet
    from maestro.tenancy.services import tenant_get_or_create

    fresh = tenant_get_or_create(slug="fresh")
    assert not EventStream.objects.filter(tenant=fresh).exists()

    # when: every writer's first event is a first event of the tenant
    errors = _writers(fresh, THREADS, 1)

    # then
    assert errors == []
    seqs = list(Event.objects.filter(tenant=fresh).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, THREADS * 2 + 1))
    assert EventStream.objects.get(tenant=fresh).last_seq == THREADS * 2
