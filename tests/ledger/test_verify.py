"""One entry checked the way an operator checks it (``entry_evidence`` / ``entry_checks``):
every check passes for a sound entry and each tampering fails exactly its own check."""

from __future__ import annotations

import copy

import pytest

from ledger.hashing import canonical_json
from ledger.models import LedgerEntry
from ledger.verify import entry_checks, entry_evidence
from tests.ledger.conftest import append, sequence

pytestmark = pytest.mark.django_db

CHECKS = ["payload hash", "entry hash", "inclusion proof", "checkpoint signature"]


@pytest.fixture
def evidence(tenant):
    append(tenant, 5)
    sequence(tenant, batch_size=3)  # checkpoints at 3 and 5: the latest covers every entry
    entry = LedgerEntry.objects.get(tenant=tenant, sequence_number=2)
    return entry_evidence(entry=entry)


def verdicts(checks):
    return {c["name"]: c["ok"] for c in checks}


def test_a_sound_entry_passes_every_check(evidence):
    # when
    checks = entry_checks(evidence)

    # then
    assert [c["name"] for c in checks] == CHECKS
    assert all(c["ok"] for c in checks), checks
    assert evidence["checkpoint"]["treeSize"] == 5
    assert evidence["proof"]["treeSize"] == 5 and evidence["proof"]["leafIndex"] == 1
    assert evidence["payloadInHotStore"] is True


def test_a_tampered_payload_fails_the_payload_check_only(evidence):
    # given
    tampered = copy.deepcopy(evidence)
    tampered["payload"] = canonical_json({"i": 999, "note": "forged"}).decode()

    # when
    checks = entry_checks(tampered)

    # then
    assert verdicts(checks) == {"payload hash": False, "entry hash": True, "inclusion proof": True,
                                "checkpoint signature": True}
    assert "not the entry's payloadHash" in checks[0]["detail"]


def test_a_tampered_field_fails_the_entry_hash(evidence):
    tampered = copy.deepcopy(evidence)
    tampered["fields"]["actorId"] = "mallory"

    assert verdicts(entry_checks(tampered))["entry hash"] is False


def test_a_proof_against_another_root_fails_inclusion_and_the_signature(evidence):
    # given: a checkpoint whose root was swapped (its signature no longer covers it)
    tampered = copy.deepcopy(evidence)
    tampered["checkpoint"]["rootHash"] = "ab" * 32

    # when
    result = verdicts(entry_checks(tampered))

    # then
    assert result == {"payload hash": True, "entry hash": True, "inclusion proof": False,
                      "checkpoint signature": False}


def test_a_wrong_audit_path_fails_inclusion_only(evidence):
    tampered = copy.deepcopy(evidence)
    tampered["proof"]["auditPath"][0] = "cd" * 32

    assert verdicts(entry_checks(tampered)) == {"payload hash": True, "entry hash": True, "inclusion proof": False,
                                                "checkpoint signature": True}


def test_a_missing_payload_and_no_checkpoint_fail_with_reasons(evidence):
    tampered = copy.deepcopy(evidence)
    tampered["payload"], tampered["checkpoint"], tampered["proof"] = None, None, None

    checks = entry_checks(tampered)

    assert verdicts(checks) == {"payload hash": False, "entry hash": True, "inclusion proof": False,
                                "checkpoint signature": False}
    assert checks[0]["detail"] == "the payload is in neither the hot store nor the archive"
    assert checks[2]["detail"] == "no signed checkpoint covers this entry yet"
