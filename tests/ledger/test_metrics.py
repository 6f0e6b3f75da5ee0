from __future__ import annotations

import re

import pytest
from django.test import Client

from ledger.archiver import archive_tenant
from ledger.metrics import ENTRIES_SEQUENCED
from ledger.verify import verify_chain
from maestro.tenancy.services import tenant_get_or_create
from tests.ledger.conftest import append, sequence

pytestmark = pytest.mark.django_db


def _metric(text: str, name: str, **labels: str) -> float:
    selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    match = re.search(rf"^{name}\{{{re.escape(selector)}\}} (\S+)$", text, re.M)
    assert match, f"{name}{{{selector}}} not exposed"
    return float(match.group(1))


def test_metrics_expose_backlog_height_lag_and_verification(settings, archive_url):
    # given: 7 sequenced, 3 pending, 5 archived, one verification run
    settings.MAESTRO_ARCHIVE_SEGMENT_MAX = 5
    tenant = tenant_get_or_create(slug="metered")
    before = ENTRIES_SEQUENCED._value.get()
    append(tenant, 5)
    sequence(tenant)
    append(tenant, 2)
    sequence(tenant)
    archive_tenant(tenant_id=tenant.pk)
    verify_chain(tenant_id=tenant.pk)
    append(tenant, 3)

    # when
    text = Client().get("/metrics").content.decode()

    # then
    assert _metric(text, "maestro_ledger_intake_backlog", tenant="metered") == 3
    assert _metric(text, "maestro_ledger_chain_height", tenant="metered") == 7
    assert _metric(text, "maestro_ledger_archive_lag_entries", tenant="metered") == 2
    assert _metric(text, "maestro_ledger_archive_lag_seconds", tenant="metered") >= 0
    assert _metric(text, "maestro_ledger_last_verification_valid", tenant="metered", kind="chain") == 1
    assert ENTRIES_SEQUENCED._value.get() == before + 7
    assert "maestro_ledger_batch_duration_seconds_bucket" in text
    assert "maestro_ledger_batch_size_count" in text
