from __future__ import annotations

import re

import pytest

from ledger.models import Checkpoint, LedgerEntry
from tests.ledger.conftest import append, sequence, triggers_bypassed

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


def test_an_entry_page_shows_its_payload_hashes_and_inclusion_proof(staff, tenant):
    # given
    append(tenant, 3, payload={"version": "1.4.2", "ok": True})
    sequence(tenant)
    entry = LedgerEntry.objects.get(tenant=tenant, sequence_number=2)
    checkpoint = Checkpoint.objects.get(tenant=tenant, tree_size=3)

    # when
    page = staff.get(f"/admin/ledger/ledgerentry/{entry.pk}/change/").content.decode()

    # then
    assert '<pre class="maestro-pre">{\n  &quot;ok&quot;: true,\n  &quot;version&quot;: &quot;1.4.2&quot;\n}</pre>' \
        in page
    for value in (entry.previous_hash, entry.current_hash, entry.payload_hash, checkpoint.root_hash):
        assert value in page
    assert '<span id="maestro-tree-size">3</span>' in page
    assert len(re.findall(r"<li>[0-9a-f]{64}</li>", page)) == 2  # leaf 1 of 3: its sibling, then leaf 2
    assert 'id="maestro-verify"' in page
    assert "maestro-verification" not in page  # checked only when asked


def test_verify_shows_each_check_passed(staff, tenant):
    # given
    append(tenant, 3)
    sequence(tenant)
    entry = LedgerEntry.objects.get(tenant=tenant, sequence_number=3)

    # when
    page = staff.get(f"/admin/ledger/ledgerentry/{entry.pk}/verify/")

    # then
    assert page.status_code == 200
    html = page.content.decode()
    assert '<span id="maestro-verdict">passed</span>' in html
    assert re.findall(r'<li class="(pass|fail)" data-check="([^"]+)">', html) == [
        ("pass", "payload hash"), ("pass", "entry hash"), ("pass", "inclusion proof"),
        ("pass", "checkpoint signature")]


def test_verify_shows_a_failed_check(staff, tenant):
    # given: a signed checkpoint whose root was rewritten behind the application's back
    append(tenant, 2)
    sequence(tenant)
    entry = LedgerEntry.objects.get(tenant=tenant, sequence_number=1)
    with triggers_bypassed() as cur:
        cur.execute("UPDATE ledger_checkpoint SET root_hash = %s WHERE tenant_id = %s", ["ab" * 32, tenant.pk])

    # when
    html = staff.get(f"/admin/ledger/ledgerentry/{entry.pk}/verify/").content.decode()

    # then
    assert '<span id="maestro-verdict">FAILED</span>' in html
    assert re.findall(r'<li class="(pass|fail)" data-check="([^"]+)">', html) == [
        ("pass", "payload hash"), ("pass", "entry hash"), ("fail", "inclusion proof"),
        ("fail", "checkpoint signature")]


def test_a_pruned_payload_is_said_to_be_pruned(staff, tenant):
    # given: the payload gone from the hot store and never archived
    append(tenant, 1)
    sequence(tenant)
    entry = LedgerEntry.objects.get(tenant=tenant)
    with triggers_bypassed() as cur:
        cur.execute("DELETE FROM ledger_ledgerpayload WHERE tenant_id = %s", [tenant.pk])

    # when
    page = staff.get(f"/admin/ledger/ledgerentry/{entry.pk}/change/").content.decode()

    # then
    assert 'id="maestro-payload-pruned"' in page


def test_the_list_action_verifies_the_selected_entries(staff, tenant):
    # given: entry 1's stored payload replaced behind the application's back
    append(tenant, 2)
    sequence(tenant)
    first, second = LedgerEntry.objects.filter(tenant=tenant).order_by("sequence_number")
    with triggers_bypassed() as cur:
        cur.execute("UPDATE ledger_ledgerpayload SET body = %s WHERE tenant_id = %s AND payload_hash = %s",
                    ['{"forged":true}', tenant.pk, first.payload_hash])

    # when
    response = staff.post("/admin/ledger/ledgerentry/", {"action": "verify_entries", "index": 0,
                                                         "_selected_action": [first.pk, second.pk]}, follow=True)

    # then
    assert [str(m) for m in response.context["messages"]] == [
        "Every check passed for 1: #2 (default).", "Failed 1: #1 (default): payload hash."]


def test_the_entry_list_shows_the_columns_an_operator_scans_for(staff, tenant):
    from tests.support.admin import columns

    append(tenant, 2)
    sequence(tenant)

    assert columns(staff.get("/admin/ledger/ledgerentry/")) == [
        "seq", "timestamp", "action_type", "resource_id", "actor_id", "tenant"]
    found = staff.get("/admin/ledger/ledgerentry/?q=task_1&resource_type=task")
    assert [e.resource_id for e in found.context["cl"].queryset] == ["task_1"]
