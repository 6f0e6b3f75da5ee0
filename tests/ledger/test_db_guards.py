"""The database itself refuses a gap, a fork, a broken link, and any edit (PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from ledger.hashing import GENESIS_HASH
from ledger.models import Checkpoint, LedgerEntry, MerkleNode
from tests.ledger.conftest import append, postgres_only, sequence

pytestmark = pytest.mark.django_db


def _entry(tenant, seq: int, previous_hash: str) -> LedgerEntry:
    return LedgerEntry(id=uuid.uuid4(), tenant_id=tenant.pk, sequence_number=seq, previous_hash=previous_hash,
                       current_hash="c" * 64, timestamp=timezone.now(), action_type="x", resource_type="y",
                       resource_id="", actor_id="", actor_type="system", payload_hash="d" * 64, metadata={})


def _head(tenant) -> LedgerEntry:
    return LedgerEntry.objects.filter(tenant_id=tenant.pk).order_by("-sequence_number").first()


@postgres_only
def test_an_entry_that_skips_a_sequence_number_is_refused(tenant):
    # given
    append(tenant, 3)
    sequence(tenant)
    head = _head(tenant)

    # when / then
    with pytest.raises(IntegrityError, match="does not link to entry 4"), transaction.atomic():
        LedgerEntry.objects.bulk_create([_entry(tenant, 5, head.current_hash)])
    assert LedgerEntry.objects.filter(tenant_id=tenant.pk).count() == 3


@postgres_only
def test_a_second_entry_with_the_same_sequence_number_is_refused(tenant):
    # given
    append(tenant, 3)
    sequence(tenant)
    second = LedgerEntry.objects.get(tenant_id=tenant.pk, sequence_number=2)

    # when / then: a fork at 3
    with pytest.raises(IntegrityError, match="ledger_entry_tenant_seq_uniq"), transaction.atomic():
        LedgerEntry.objects.bulk_create([_entry(tenant, 3, second.current_hash)])
    assert LedgerEntry.objects.filter(tenant_id=tenant.pk).count() == 3


@postgres_only
def test_an_entry_whose_previous_hash_is_not_its_predecessors_hash_is_refused(tenant, other_tenant):
    # given
    append(tenant, 2)
    sequence(tenant)

    # when / then
    with pytest.raises(IntegrityError, match="does not link to entry 2"), transaction.atomic():
        LedgerEntry.objects.bulk_create([_entry(tenant, 3, "e" * 64)])
    with pytest.raises(IntegrityError, match="does not link to entry 0"), transaction.atomic():
        LedgerEntry.objects.bulk_create([_entry(other_tenant, 1, "e" * 64)])  # genesis carries 64 zeros
    assert LedgerEntry.objects.filter(tenant_id=tenant.pk).count() == 2
    assert LedgerEntry.objects.filter(tenant_id=other_tenant.pk).count() == 0


@postgres_only
def test_links_inside_one_statement_are_checked_too(tenant, other_tenant):
    # given: entry 1 of a fresh tenant
    first = _entry(other_tenant, 1, GENESIS_HASH)

    # when / then: 2 links to 1, but 3 does not link to 2
    second = _entry(other_tenant, 2, first.current_hash)
    second.current_hash = "f" * 64
    with pytest.raises(IntegrityError, match="entry 3 of tenant"), transaction.atomic():
        LedgerEntry.objects.bulk_create([first, second, _entry(other_tenant, 3, "c" * 64)])
    # and a batch that links correctly goes in whole
    LedgerEntry.objects.bulk_create([first, second, _entry(other_tenant, 3, "f" * 64)])
    assert LedgerEntry.objects.filter(tenant_id=other_tenant.pk).count() == 3


@postgres_only
def test_update_and_delete_of_sequenced_entries_are_refused(tenant):
    # given
    append(tenant, 2)
    sequence(tenant)
    before = list(LedgerEntry.objects.order_by("sequence_number").values_list("action_type", "current_hash"))

    # when / then
    with pytest.raises(IntegrityError, match="UPDATE on ledger_ledgerentry is not allowed"), transaction.atomic():
        LedgerEntry.objects.filter(tenant_id=tenant.pk, sequence_number=1).update(action_type="forged")
    with pytest.raises(IntegrityError, match="DELETE on ledger_ledgerentry is not allowed"), transaction.atomic():
        LedgerEntry.objects.filter(tenant_id=tenant.pk, sequence_number=2).delete()
    assert list(LedgerEntry.objects.order_by("sequence_number").values_list("action_type", "current_hash")) == before


@postgres_only
def test_checkpoints_and_merkle_nodes_are_append_only(tenant, settings):
    # given
    settings.MAESTRO_LEDGER_NODE_MIN_LEVEL = 1
    append(tenant, 2)
    sequence(tenant)

    # when / then
    with pytest.raises(DatabaseError, match="not allowed"), transaction.atomic():
        Checkpoint.objects.filter(tenant_id=tenant.pk).update(root_hash="0" * 64)
    with pytest.raises(DatabaseError, match="not allowed"), transaction.atomic():
        Checkpoint.objects.filter(tenant_id=tenant.pk).delete()
    with pytest.raises(DatabaseError, match="not allowed"), transaction.atomic():
        MerkleNode.objects.filter(tenant_id=tenant.pk).delete()
    assert Checkpoint.objects.filter(tenant_id=tenant.pk).count() == 1
    assert MerkleNode.objects.filter(tenant_id=tenant.pk).count() == 1


@postgres_only
def test_a_sequencer_working_from_a_wrong_head_cannot_write_a_fork(tenant):
    # given: the head row says the chain ends in another hash, and one more entry is appended
    from ledger.models import IntakeEntry, TenantHead

    append(tenant, 2)
    sequence(tenant)
    TenantHead.objects.filter(tenant_id=tenant.pk).update(head_hash="a" * 64)
    append(tenant, 1)

    # when / then: the batch's one statement is refused by the link trigger, and rolled back
    with pytest.raises(IntegrityError, match="entry 3 of tenant .* does not link to entry 2"):
        sequence(tenant)
    assert LedgerEntry.objects.filter(tenant_id=tenant.pk).count() == 2
    assert IntakeEntry.objects.filter(tenant_id=tenant.pk).count() == 1
    assert Checkpoint.objects.filter(tenant_id=tenant.pk).count() == 1
