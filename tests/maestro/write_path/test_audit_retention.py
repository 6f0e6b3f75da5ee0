"""Audit retention: the hourly write_path.prune_audit job deletes rows older than
MAESTRO_AUDIT_RETENTION_DAYS and nothing else; unset, it keeps everything."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from maestro.queue import registered
from maestro.write_path.jobs import PRUNE_AUDIT_JOB
from maestro.write_path.models import AuditEvent


def _rows(tenant, *ages_days):
    now = timezone.now()
    ids = []
    for age in ages_days:
        row = AuditEvent.objects.create(tenant=tenant, actor="a", action="task.update")
        AuditEvent.objects.filter(pk=row.pk).update(timestamp=now - timedelta(days=age))
        ids.append(row.pk)
    return ids


def test_the_job_deletes_only_rows_past_retention(tenant, settings):
    # given
    settings.MAESTRO_AUDIT_RETENTION_DAYS = 30
    old, older, recent = _rows(tenant, 31, 400, 29)
    # when
    deleted = registered(PRUNE_AUDIT_JOB).apply().get()
    # then
    assert deleted == 2
    assert list(AuditEvent.objects.filter(pk__in=[old, older, recent]).values_list("pk", flat=True)) == [recent]


def test_without_retention_nothing_is_deleted(tenant, settings):
    settings.MAESTRO_AUDIT_RETENTION_DAYS = 0
    ids = _rows(tenant, 5000)
    assert registered(PRUNE_AUDIT_JOB).apply().get() == 0
    assert AuditEvent.objects.filter(pk__in=ids).count() == 1


def test_the_scheduler_runs_it_hourly(settings):
    assert settings.MAESTRO_PERIODIC_JOBS[PRUNE_AUDIT_JOB] == 3600.0
