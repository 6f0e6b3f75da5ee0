"""Compiled reads (maestro/core/compiled.py) answer as the QuerySet they were compiled from,
for any values passed in place of the markers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Count, Max, Q

from maestro.core.compiled import CompiledValues
from orchestration.runs.models import Run
from tests.factories import make_run

pytestmark = pytest.mark.django_db

MARK = -9_000_001
SINCE = datetime(1901, 1, 1, tzinfo=UTC)


def _latest(tenant_id):
    return (Run.objects.filter(tenant_id=tenant_id).order_by("-created_at", "-id")
            .values_list("status", "created_at")[:3])


def _counts(tenant_id, since):
    return (Run.objects.filter(tenant_id=tenant_id, created_at__gte=since).order_by().values("tenant_id")
            .annotate(total=Count("id"), failed=Count("id", filter=Q(status="failed")), newest=Max("created_at"))
            .values_list("total", "failed", "newest"))


def test_a_compiled_values_read_answers_as_its_queryset_for_every_value(seeded):
    # given: runs of the tenant an hour apart, some failed
    now = datetime.now(UTC).replace(microsecond=0)
    for n in range(5):
        run = make_run(seeded, status="failed" if n % 2 else "succeeded")
        Run.objects.filter(pk=run.pk).update(created_at=now - timedelta(hours=n))
    latest = CompiledValues(_latest, tenant_id=MARK)
    counts = CompiledValues(_counts, tenant_id=MARK, since=SINCE)

    # when/then: the same rows, converted the same way (aware datetimes), as the QuerySet's
    for tenant_id in (seeded.pk, seeded.pk + 1000):
        assert latest.rows(tenant_id=tenant_id) == list(_latest(tenant_id))
        for hours in (0, 2, 10):
            since = now - timedelta(hours=hours)
            assert counts.rows(tenant_id=tenant_id, since=since) == list(_counts(tenant_id, since))
    assert counts.rows(tenant_id=seeded.pk, since=now - timedelta(hours=2)) == [(3, 1, now)]
    assert counts.rows(tenant_id=seeded.pk + 1000, since=now) == []  # nothing to group: no row


def test_a_marker_the_sql_does_not_carry_is_refused():
    unused = CompiledValues(lambda tenant_id, other: Run.objects.filter(tenant_id=tenant_id).values_list("id"),
                            tenant_id=MARK, other="\x01unused")
    with pytest.raises(ValueError, match="every marker must be a parameter"):
        unused.rows(tenant_id=1, other="x")
