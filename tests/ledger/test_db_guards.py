"""The database itself refuses a gap, a fork, a broken link, and any edit, deletion or truncation
of a ledger table (PostgreSQL)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from ledger.hashing import GENESIS_HASH
from ledger.models import ArchiveSegment, Checkpoint, IntakeEntry, LedgerEntry, LedgerPayload, MerkleNode, TenantHead
from tests.ledger.conftest import append, postgres_only, sequence, triggers_bypassed

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
    # given: the head row says the chain ends in another hash (a superuser's edit: the head's own
    # guard refuses it), and one more entry is appended
    append(tenant, 2)
    sequence(tenant)
    with triggers_bypassed():
        TenantHead.objects.filter(tenant_id=tenant.pk).update(head_hash="a" * 64)
    append(tenant, 1)

    # when / then: the batch's one statement is refused by the link trigger, and rolled back
    with pytest.raises(IntegrityError, match="entry 3 of tenant .* does not link to entry 2"):
        sequence(tenant)
    assert LedgerEntry.objects.filter(tenant_id=tenant.pk).count() == 2
    assert IntakeEntry.objects.filter(tenant_id=tenant.pk).count() == 1
    assert Checkpoint.objects.filter(tenant_id=tenant.pk).count() == 1


# ---- every ledger table is append-only: UPDATE, DELETE and TRUNCATE (issue #9) ----------------

def _check_deferred_constraints_now() -> None:
    """This test's inserts are not committed: their deferred foreign-key checks would stop a
    TRUNCATE before any trigger could (PostgreSQL: "pending trigger events")."""
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _rows(model, tenant) -> list:
    """Every column of the tenant's rows of ``model``, to compare before and after."""
    return sorted(model.objects.filter(tenant_id=tenant.pk).values_list(), key=repr)


@pytest.fixture
def archived_chain(tenant, archive_url, settings):
    """Entries 1..12 in checkpoints at 5, 10, 12; 1..10 archived (payloads of 1..10 pruned) and
    one stored Merkle node."""
    from ledger.archiver import archive_tenant

    settings.MAESTRO_LEDGER_NODE_MIN_LEVEL = 3
    settings.MAESTRO_ARCHIVE_SEGMENT_MAX = 10
    append(tenant, 12)
    sequence(tenant, batch_size=5)
    archive_tenant(tenant_id=tenant.pk)
    return tenant


LEDGER_TABLES = [LedgerEntry, LedgerPayload, TenantHead, Checkpoint, MerkleNode, ArchiveSegment]


@postgres_only
@pytest.mark.parametrize("model", [*LEDGER_TABLES, IntakeEntry], ids=lambda m: m._meta.db_table)
def test_truncate_of_every_ledger_table_is_refused(archived_chain, model):
    # given
    append(archived_chain, 1)  # an unsequenced intake row too
    before = _rows(model, archived_chain)
    assert before
    _check_deferred_constraints_now()

    # when / then
    with pytest.raises(DatabaseError, match=f"TRUNCATE on {model._meta.db_table} is not allowed"), \
            transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"TRUNCATE {model._meta.db_table}")
    assert _rows(model, archived_chain) == before


@postgres_only
@pytest.mark.parametrize("model", LEDGER_TABLES, ids=lambda m: m._meta.db_table)
def test_delete_from_every_ledger_table_is_refused(archived_chain, model):
    # given: for payloads, those still hot (entries 11 and 12: not archived yet)
    before = _rows(model, archived_chain)
    assert before

    # when / then
    with pytest.raises(DatabaseError, match="not allowed"), transaction.atomic():
        model.objects.filter(tenant_id=archived_chain.pk).delete()
    assert _rows(model, archived_chain) == before


@postgres_only
def test_a_payload_row_cannot_be_rewritten(archived_chain):
    # given
    entry = LedgerEntry.objects.get(tenant_id=archived_chain.pk, sequence_number=12)
    row = LedgerPayload.objects.filter(tenant_id=archived_chain.pk, payload_hash=entry.payload_hash)
    body = row.get().body

    # when / then
    with pytest.raises(DatabaseError, match="UPDATE on ledger_ledgerpayload is not allowed"), transaction.atomic():
        row.update(body='{"i":999}')
    assert row.get().body == body


@postgres_only
def test_only_payloads_safe_in_the_archive_may_be_pruned(archived_chain):
    # given: 11 and 12 are past the archived segment 1..10; their payloads are the only hot ones
    hot = set(LedgerPayload.objects.filter(tenant_id=archived_chain.pk).values_list("payload_hash", flat=True))
    tail = set(LedgerEntry.objects.filter(tenant_id=archived_chain.pk, sequence_number__gt=10)
               .values_list("payload_hash", flat=True))
    assert hot == tail

    # when / then: deleting one of them is refused, naming the rule
    with pytest.raises(DatabaseError, match="not archived yet"), transaction.atomic():
        LedgerPayload.objects.filter(tenant_id=archived_chain.pk, payload_hash=min(tail)).delete()
    assert set(LedgerPayload.objects.filter(tenant_id=archived_chain.pk)
               .values_list("payload_hash", flat=True)) == hot


@postgres_only
def test_an_archive_segment_row_only_records_its_pruning(archived_chain):
    # given
    segment = ArchiveSegment.objects.get(tenant_id=archived_chain.pk)
    before = _rows(ArchiveSegment, archived_chain)

    # when / then: its range, key or digest cannot change, nor its pruning time once set
    with pytest.raises(DatabaseError, match="not allowed"), transaction.atomic():
        ArchiveSegment.objects.filter(pk=segment.pk).update(sha256="0" * 64)
    with pytest.raises(DatabaseError, match="not allowed"), transaction.atomic():
        ArchiveSegment.objects.filter(pk=segment.pk).update(payloads_pruned_at=None)
    assert _rows(ArchiveSegment, archived_chain) == before


@postgres_only
def test_the_head_moves_only_forward_to_the_last_entry(tenant):
    # given
    append(tenant, 3)
    sequence(tenant)
    head = TenantHead.objects.filter(tenant_id=tenant.pk)
    before = _rows(TenantHead, tenant)
    second = LedgerEntry.objects.get(tenant_id=tenant.pk, sequence_number=2)

    # when / then: backwards (to a real entry), sideways (same height, another hash), forward
    # past the last entry
    for change in ({"sequence_number": 2, "head_hash": second.current_hash}, {"head_hash": "a" * 64},
                   {"sequence_number": 4}):
        with pytest.raises(DatabaseError, match="ledger head of tenant .* may only move forward"), \
                transaction.atomic():
            head.update(**change)
        assert _rows(TenantHead, tenant) == before
    # and the sequencer still moves it forward
    append(tenant, 2)
    sequence(tenant)
    last = LedgerEntry.objects.get(tenant_id=tenant.pk, sequence_number=5)
    assert head.values_list("sequence_number", "head_hash").get() == (5, last.current_hash)


@postgres_only
def test_a_head_is_born_at_genesis(other_tenant):
    # when / then
    with pytest.raises(DatabaseError, match="ledger head of tenant .* starts at 0"), transaction.atomic():
        TenantHead.objects.create(tenant=other_tenant, sequence_number=7, head_hash="a" * 64,
                                  updated_at=timezone.now())
    assert not TenantHead.objects.filter(tenant_id=other_tenant.pk).exists()


@postgres_only
def test_intake_rows_cannot_be_rewritten_before_they_are_sequenced(tenant):
    # given
    row = append(tenant, 1)[0]
    before = _rows(IntakeEntry, tenant)

    # when / then
    with pytest.raises(DatabaseError, match="UPDATE on ledger_intakeentry is not allowed"), transaction.atomic():
        IntakeEntry.objects.filter(pk=row.pk).update(actor_id="mallory")
    assert _rows(IntakeEntry, tenant) == before


@postgres_only
def test_flush_empties_the_ledger_only_where_settings_allow_it(archived_chain, settings):
    # given: a deployment's settings (test settings allow it, for the test database's teardown)
    settings.MAESTRO_LEDGER_ALLOW_FLUSH = False
    counts = [m.objects.count() for m in LEDGER_TABLES]
    _check_deferred_constraints_now()

    # when / then: refused, and nothing is gone
    with pytest.raises(CommandError) as refused:
        call_command("flush", interactive=False, verbosity=0)
    assert re.search(r"TRUNCATE on ledger_\w+ is not allowed", str(refused.value.__cause__))
    assert [m.objects.count() for m in LEDGER_TABLES] == counts

    # when: the test settings' flush (this test's transaction rolls it back)
    settings.MAESTRO_LEDGER_ALLOW_FLUSH = True
    call_command("flush", interactive=False, verbosity=0)

    # then: empty, and the guard is on again for this session
    assert [m.objects.count() for m in LEDGER_TABLES] == [0] * len(LEDGER_TABLES)
    with pytest.raises(DatabaseError, match="TRUNCATE on ledger_ledgerentry is not allowed"), \
            transaction.atomic(), connection.cursor() as cur:
        cur.execute("TRUNCATE ledger_ledgerentry")
