from __future__ import annotations

import pytest

from ledger.models import LedgerEntry
from tests.ledger.conftest import append, sequence

pytestmark = pytest.mark.django_db

PAGES = ["ledgerentry", "intakeentry", "checkpoint", "tenanthead", "archivesegment", "verificationrun"]




@pytest.mark.parametrize("model", PAGES)
def test_admin_lists_ledger_rows_but_offers_no_add(staff, tenant, model):
    append(tenant, 2)
    sequence(tenant)
    append(tenant, 1)
    assert staff.get(f"/admin/ledger/{model}/").status_code == 200
    assert staff.get(f"/admin/ledger/{model}/add/").status_code == 403


def test_an_entry_can_be_viewed_but_not_changed_or_deleted(staff, tenant):
    # given
    append(tenant, 1)
    sequence(tenant)
    entry = LedgerEntry.objects.get()

    # when
    page = staff.get(f"/admin/ledger/ledgerentry/{entry.pk}/change/")
    post = staff.post(f"/admin/ledger/ledgerentry/{entry.pk}/change/", {"action_type": "forged"})
    delete = staff.post(f"/admin/ledger/ledgerentry/{entry.pk}/delete/", {"post": "yes"})

    # then
    assert page.status_code == 200
    assert b"Save" not in page.content
    assert post.status_code == 403
    assert delete.status_code == 403
    assert LedgerEntry.objects.get().action_type == "task.create"
