"""``ledger_verify`` holds the database to the signed checkpoints in the WORM archive: a
superuser who rewrites entries and payloads and empties the checkpoint and Merkle tables no
longer gets a clean report (issue #9)."""

from __future__ import annotations

import hashlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ledger.hashing import canonical_json, entry_hash
from ledger.jobs import archive_tenant_job
from ledger.models import Checkpoint, LedgerEntry, LedgerPayload, MerkleNode, TenantHead
from ledger.verify import verify_chain
from tests.ledger.conftest import append, sequence, triggers_bypassed
from tests.support.jobs import celery_eager

pytestmark = pytest.mark.django_db

KEY = "tenant/default/checkpoints/{:012d}.json"


def _errors(report: dict) -> list[tuple[int | None, str]]:
    return [(e["sequenceNumber"], e["error"]) for e in report["errors"]]


def _rewrite(tenant) -> None:
    """The attack, as a database superuser: entry 8 names another actor, entry 9 carries
    another payload, every later hash and link is recomputed so the chain is self-consistent,
    the head follows, and the checkpoints and Merkle nodes that would betray it are gone."""
    with triggers_bypassed() as cur:
        forged = canonical_json({"i": 999}).decode()
        LedgerPayload.objects.create(tenant_id=tenant.pk, payload_hash=hashlib.sha256(forged.encode()).hexdigest(),
                                     body=forged)
        previous = LedgerEntry.objects.get(tenant_id=tenant.pk, sequence_number=7).current_hash
        for e in LedgerEntry.objects.filter(tenant_id=tenant.pk, sequence_number__gte=8).order_by("sequence_number"):
            actor = "mallory" if e.sequence_number == 8 else e.actor_id
            payload_hash = hashlib.sha256(forged.encode()).hexdigest() if e.sequence_number == 9 else e.payload_hash
            current = entry_hash(id=e.id, tenant_id=e.tenant_id, sequence_number=e.sequence_number,
                                 previous_hash=previous, timestamp=e.timestamp, action_type=e.action_type,
                                 resource_type=e.resource_type, resource_id=e.resource_id, actor_id=actor,
                                 actor_type=e.actor_type, payload_hash=payload_hash, metadata=e.metadata)
            LedgerEntry.objects.filter(id=e.id).update(actor_id=actor, payload_hash=payload_hash,
                                                       previous_hash=previous, current_hash=current)
            previous = current
        TenantHead.objects.filter(tenant_id=tenant.pk).update(head_hash=previous)
        cur.execute("TRUNCATE ledger_checkpoint, ledger_merklenode")


@pytest.fixture
def committed_chain(tenant, settings):
    """Entries 1..12 committed in batches of 5 (checkpoints 5, 10, 12, each archived on commit)
    with stored Merkle nodes."""
    settings.MAESTRO_LEDGER_NODE_MIN_LEVEL = 2
    append(tenant, 12)
    with celery_eager(True):  # the publication job runs here, right after each commit
        sequence(tenant, batch_size=5)
    assert Checkpoint.objects.filter(tenant_id=tenant.pk).count() == 3
    assert MerkleNode.objects.filter(tenant_id=tenant.pk).exists()
    return tenant


@pytest.mark.django_db(transaction=True)
def test_an_untouched_ledger_passes(committed_chain):
    # when
    report = verify_chain(tenant_id=committed_chain.pk)

    # then
    assert (report["valid"], report["errors"], report["checkpointsVerified"]) == (True, [], 3)
    call_command("ledger_verify")  # exits 0


@pytest.mark.django_db(transaction=True)
def test_a_rewritten_ledger_with_its_checkpoints_truncated_fails_against_the_archive(committed_chain, admin_client,
                                                                                     capsys):
    # given
    _rewrite(committed_chain)

    # when
    report = verify_chain(tenant_id=committed_chain.pk)

    # then: every hash and link checks out, the database has no checkpoint left, and the
    # archived ones name what is gone and where the entries stopped matching them
    assert (report["valid"], report["invalidHashes"], report["brokenChains"]) == (False, 0, 0)
    assert _errors(report) == [
        (5, f"checkpoint at treeSize 5 is in the archive ({KEY.format(5)}) but missing from the database"),
        (10, f"checkpoint at treeSize 10 is in the archive ({KEY.format(10)}) but missing from the database"),
        (10, "Merkle root over entries 1..10 differs from the signed checkpoint"),
        (12, f"checkpoint at treeSize 12 is in the archive ({KEY.format(12)}) but missing from the database"),
        (12, "Merkle root over entries 1..12 differs from the signed checkpoint"),
    ]
    assert report["errors"][2]["range"] == [6, 10]
    api = admin_client.post("/api/ledger/verify").json()  # the API's verify is the same check
    assert (api["valid"], _errors(api)) == (False, _errors(report))
    with pytest.raises(CommandError, match="ledger verification failed for: default"):
        call_command("ledger_verify")
    assert "default: INVALID, first bad sequence 5: checkpoint at treeSize 5 is in the archive" in \
        capsys.readouterr().err


def test_a_checkpoint_that_differs_from_the_archived_one_is_named(tenant, django_capture_on_commit_callbacks):
    # given: checkpoint 10 in the database no longer matches what was archived
    append(tenant, 12)
    with celery_eager(True), django_capture_on_commit_callbacks(execute=True):
        sequence(tenant, batch_size=5)
    with triggers_bypassed():
        Checkpoint.objects.filter(tenant_id=tenant.pk, tree_size=10).update(key_id="0" * 16)

    # when
    report = verify_chain(tenant_id=tenant.pk)

    # then
    assert report["valid"] is False
    assert _errors(report) == [(10, f"checkpoint at treeSize 10 differs from the archived one ({KEY.format(10)})")]


def test_entries_no_archived_checkpoint_covers_fail_after_the_checkpoint_interval(
        tenant, settings, tmp_path, django_capture_on_commit_callbacks):
    # given: checkpoint 5 reached the archive; then it became unreachable for 10 and 12
    archive = settings.MAESTRO_ARCHIVE_URL
    append(tenant, 5)
    with celery_eager(True), django_capture_on_commit_callbacks(execute=True):
        sequence(tenant)
    (tmp_path / "blocker").write_text("")
    settings.MAESTRO_ARCHIVE_URL = (tmp_path / "blocker" / "archive").as_uri()
    append(tenant, 7)
    with celery_eager(True), django_capture_on_commit_callbacks(execute=True):
        sequence(tenant, batch_size=5)
    settings.MAESTRO_ARCHIVE_URL = archive

    # when / then: within the interval that is lag, not a failure
    settings.MAESTRO_LEDGER_CHECKPOINT_INTERVAL_SECONDS = 3600
    assert verify_chain(tenant_id=tenant.pk)["valid"] is True

    # when / then: past it, entries 6..12 are named
    settings.MAESTRO_LEDGER_CHECKPOINT_INTERVAL_SECONDS = 0
    report = verify_chain(tenant_id=tenant.pk)
    assert report["valid"] is False
    assert _errors(report) == [(6, "entries 6..12 are older than 0 s and no checkpoint in the archive covers them")]
    assert report["errors"][0]["range"] == [6, 12]

    # and once the periodic job has written the missing checkpoints, the ledger verifies again
    archive_tenant_job.run(tenant.pk)
    assert verify_chain(tenant_id=tenant.pk)["valid"] is True


def test_a_tenant_that_has_sequenced_nothing_yet_verifies_empty(other_tenant):
    # when
    report = verify_chain(tenant_id=other_tenant.pk)

    # then
    assert (report["valid"], report["totalEntries"], report["errors"]) == (True, 0, [])
