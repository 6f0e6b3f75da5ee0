"""Rows edited, deleted or reordered behind the application's back (as a database superuser,
with the append-only triggers bypassed): verification names the first bad sequence number."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.hashing import entry_hash
from ledger.models import Checkpoint, LedgerEntry, LedgerPayload
from ledger.verify import verify_chain
from tests.ledger.conftest import append, sequence, triggers_bypassed

pytestmark = pytest.mark.django_db

def _first_bad(report: dict) -> int | None:
    seqs = [e["sequenceNumber"] for e in report["errors"] if e["sequenceNumber"] is not None]
    return min(seqs) if seqs else None


@pytest.fixture
def chain(tenant):
    append(tenant, 12)
    sequence(tenant, batch_size=5)  # checkpoints at 5, 10, 12
    return tenant


def test_an_untouched_chain_verifies(chain):
    # when
    report = verify_chain(tenant_id=chain.pk)

    # then
    assert {k: report[k] for k in ("valid", "totalEntries", "brokenChains", "invalidHashes", "missingEntries",
                                   "lastVerifiedSequence", "checkpointsVerified", "errors")} == {
        "valid": True, "totalEntries": 12, "brokenChains": 0, "invalidHashes": 0, "missingEntries": 0,
        "lastVerifiedSequence": 12, "checkpointsVerified": 3, "errors": []}
    assert report["rootHash"] == Checkpoint.objects.get(tenant_id=chain.pk, tree_size=12).root_hash
    assert isinstance(report["verificationTime"], float)


def test_an_edited_field_is_named_by_its_sequence_number(chain):
    # given
    with triggers_bypassed():
        LedgerEntry.objects.filter(tenant_id=chain.pk, sequence_number=7).update(actor_id="mallory")

    # when
    report = verify_chain(tenant_id=chain.pk)

    # then
    assert report["valid"] is False
    assert _first_bad(report) == 7
    assert report["lastVerifiedSequence"] == 6
    assert report["invalidHashes"] == 1
    assert report["errors"][0] == {"sequenceNumber": 7, "error": "currentHash does not match the entry's content",
                                   "severity": "critical"}


def test_a_deleted_entry_is_named_by_its_sequence_number(chain):
    # given
    with triggers_bypassed():
        LedgerEntry.objects.filter(tenant_id=chain.pk, sequence_number=4).delete()

    # when
    report = verify_chain(tenant_id=chain.pk)

    # then
    assert (report["valid"], _first_bad(report), report["missingEntries"]) == (False, 4, 1)
    assert report["errors"][0]["error"] == "entries 4..4 are missing"
    assert report["brokenChains"] == 1  # entry 5 no longer links to what precedes it


def test_the_deleted_tail_is_found_through_the_head_and_checkpoints(chain):
    # given: the last two entries vanish (the head row and checkpoint still say 12)
    with triggers_bypassed():
        LedgerEntry.objects.filter(tenant_id=chain.pk, sequence_number__gt=10).delete()

    # when
    report = verify_chain(tenant_id=chain.pk)

    # then
    assert (report["valid"], _first_bad(report), report["missingEntries"]) == (False, 11, 2)


def test_two_reordered_entries_are_named_by_the_first_position(chain):
    # given: entries 3 and 5 swap places
    with triggers_bypassed():
        for frm, to in ((3, 1003), (5, 3), (1003, 5)):
            LedgerEntry.objects.filter(tenant_id=chain.pk, sequence_number=frm).update(sequence_number=to)

    # when
    report = verify_chain(tenant_id=chain.pk)

    # then
    assert (report["valid"], _first_bad(report)) == (False, 3)
    assert report["lastVerifiedSequence"] == 2


def test_a_rewritten_chain_with_consistent_hashes_fails_against_the_signed_checkpoints(chain):
    # given: an attacker edits entry 8 and recomputes its hash and every later link and hash
    entries = list(LedgerEntry.objects.filter(tenant_id=chain.pk, sequence_number__gte=8).order_by("sequence_number"))
    with triggers_bypassed():
        previous = LedgerEntry.objects.get(tenant_id=chain.pk, sequence_number=7).current_hash
        for e in entries:
            actor = "mallory" if e.sequence_number == 8 else e.actor_id
            current = entry_hash(id=e.id, tenant_id=e.tenant_id, sequence_number=e.sequence_number,
                                 previous_hash=previous, timestamp=e.timestamp, action_type=e.action_type,
                                 resource_type=e.resource_type, resource_id=e.resource_id, actor_id=actor,
                                 actor_type=e.actor_type, payload_hash=e.payload_hash, metadata=e.metadata)
            LedgerEntry.objects.filter(id=e.id).update(actor_id=actor, previous_hash=previous, current_hash=current)
            previous = current

    # when
    report = verify_chain(tenant_id=chain.pk)

    # then: every hash and link checks out, but the signed root at 10 does not (entries 6..10)
    assert (report["valid"], report["invalidHashes"], report["brokenChains"]) == (False, 0, 0)
    assert report["errors"][0]["sequenceNumber"] == 10
    assert report["errors"][0]["range"] == [6, 10]


def test_an_edited_payload_is_named_by_the_entry_using_it(chain):
    # given
    entry = LedgerEntry.objects.get(tenant_id=chain.pk, sequence_number=9)
    with triggers_bypassed():
        LedgerPayload.objects.filter(tenant_id=chain.pk, payload_hash=entry.payload_hash).update(body='{"i":999}')

    # when
    report = verify_chain(tenant_id=chain.pk)

    # then
    assert (report["valid"], _first_bad(report)) == (False, 9)
    assert report["errors"][0]["error"] == "payloadHash does not match the stored payload"


def test_a_forged_checkpoint_signature_is_reported(chain):
    # given
    with triggers_bypassed():
        Checkpoint.objects.filter(tenant_id=chain.pk, tree_size=5).update(signature="A" * 88)

    # when
    report = verify_chain(tenant_id=chain.pk)

    # then
    assert (report["valid"], _first_bad(report)) == (False, 5)
    assert report["errors"][0]["error"] == "checkpoint at treeSize 5 has no valid signature"


TEXT_FIELDS = ["action_type", "resource_type", "resource_id", "actor_id", "previous_hash", "current_hash",
               "payload_hash"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=st.integers(1, 12), field=st.sampled_from([*TEXT_FIELDS, "timestamp", "metadata", "payload"]),
       position=st.integers(0, 200), replacement=st.characters(codec="utf-8", exclude_characters="\x00"))
def test_any_single_character_tamper_is_detected_at_its_entry(chain, seq, field, position, replacement):
    entry = LedgerEntry.objects.get(tenant_id=chain.pk, sequence_number=seq)
    with transaction.atomic():  # each example rolls its tamper back
        # given: one character of one field of one entry changed
        with triggers_bypassed():
            row = LedgerEntry.objects.filter(id=entry.id)
            if field == "timestamp":
                row.update(timestamp=entry.timestamp + timedelta(microseconds=1))
            elif field == "metadata":
                row.update(metadata={"requestId": f"r{position}"})
            else:
                payloads = LedgerPayload.objects.filter(tenant_id=chain.pk, payload_hash=entry.payload_hash)
                value = payloads.get().body if field == "payload" else getattr(entry, field)
                changed = _flip(value, position, replacement)
                if field == "payload":
                    payloads.update(body=changed)
                else:
                    row.update(**{field: changed})

        # when
        report = verify_chain(tenant_id=chain.pk)
        transaction.set_rollback(True)

    # then
    assert report["valid"] is False
    assert _first_bad(report) == seq


def _flip(value: str, position: int, replacement: str) -> str:
    i = position % len(value)
    if value[i] == replacement:
        replacement = "0" if value[i] != "0" else "1"
    return value[:i] + replacement + value[i + 1:]
