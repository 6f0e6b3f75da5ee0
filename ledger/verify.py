"""Whole-chain verification of the database (``POST /api/ledger/verify``, ``ledger_verify``):
every entry, payload (from the hot store or the archive), Merkle node and checkpoint, checked
by :class:`ledger.checker.ChainChecker`, and the outcome recorded.

The database is also held to the signed checkpoints in the WORM archive, which a database
superuser cannot reach (issue #9): an archived checkpoint missing from the database or different
there is named, the entries are checked against every archived root too, and entries older than
``MAESTRO_LEDGER_CHECKPOINT_INTERVAL_SECONDS`` that no archived checkpoint covers are named by
their range — a ledger rewritten and stripped of its checkpoints no longer verifies.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, TypedDict

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from ledger.archive import ArchiveError, backend_for, checkpoint_key
from ledger.checker import ChainChecker
from ledger.checkpoint_archive import archived_checkpoints
from ledger.hashing import LedgerHashError, entry_hash, payload_hash
from ledger.keys import verify_checkpoint
from ledger.merkle import MerkleError, entry_leaf_hash, verify_inclusion
from ledger.models import Checkpoint, LedgerEntry, MerkleNode, VerificationRun
from ledger.proofs import inclusion
from ledger.representations import (
    CheckpointOut,
    HashedFields,
    InclusionProofOut,
    checkpoint_repr,
    entry_repr,
    hashed_fields,
)
from ledger.selectors import checkpoints_list, entry_payloads, height, payload_in_hot_store, tenant_slug

CHUNK = 5000


def verify_chain(*, tenant_id: int) -> dict[str, Any]:
    """Verify the tenant's whole ledger in the database (payloads from the hot store or the
    archive) against its checkpoints, in the database and in the archive, and record the outcome."""
    nodes = {(level, index): h for level, index, h in
             MerkleNode.objects.filter(tenant_id=tenant_id).values_list("level", "index", "hash")}
    in_db = {c.tree_size: dict(checkpoint_repr(c)) for c in Checkpoint.objects.filter(tenant_id=tenant_id)}
    slug = tenant_slug(tenant_id)
    archived, problems = _archived(slug)
    # The archived ones the database lacks or has otherwise are checked against the entries too.
    others = [cp for size, cp in archived.items() if in_db.get(size) != cp]
    checker = ChainChecker(tenant_id=tenant_id, stored_nodes=nodes, checkpoints=[*in_db.values(), *others])
    for problem in problems:
        checker.error(None, problem)
    _compare(checker, slug, in_db, archived)
    after = 0
    while True:
        chunk = list(LedgerEntry.objects.filter(tenant_id=tenant_id, sequence_number__gt=after)
                     .order_by("sequence_number")[:CHUNK])
        if not chunk:
            break
        payloads = entry_payloads(tenant_id=tenant_id, entries=chunk, fresh=True)
        for entry in chunk:
            checker.feed(entry_repr(entry), payloads[entry.sequence_number])
        after = chunk[-1].sequence_number
    checker.finish(height=height(tenant_id=tenant_id))
    _check_coverage(checker, tenant_id, archived)
    report = checker.report()
    record_run(tenant_id, "chain", report)
    return report


def _archived(slug: str) -> tuple[dict[int, dict[str, Any]], list[str]]:
    backend = backend_for()
    try:
        return archived_checkpoints(backend=backend, slug=slug)
    except ArchiveError as exc:
        return {}, [f"the checkpoints in {backend.url} cannot be listed ({exc})"]


def _compare(checker: ChainChecker, slug: str, in_db: dict[int, dict[str, Any]],
             archived: dict[int, dict[str, Any]]) -> None:
    for size, checkpoint in sorted(archived.items()):
        key = checkpoint_key(slug, size)
        if size not in in_db:
            checker.error(size, f"checkpoint at treeSize {size} is in the archive ({key}) but missing from the "
                                "database")
        elif in_db[size] != checkpoint:
            checker.error(size, f"checkpoint at treeSize {size} differs from the archived one ({key})")


def _check_coverage(checker: ChainChecker, tenant_id: int, archived: dict[int, dict[str, Any]]) -> None:
    """Entries past the last validly signed archived checkpoint are lag while young; older than
    the interval, nothing outside the database vouches for them."""
    covered = max((size for size, cp in archived.items() if cp.get("tenantId") == tenant_id and verify_checkpoint(cp)),
                  default=0)
    interval = settings.MAESTRO_LEDGER_CHECKPOINT_INTERVAL_SECONDS
    stale = LedgerEntry.objects.filter(tenant_id=tenant_id, sequence_number__gt=covered,
                                       timestamp__lte=timezone.now() - timedelta(seconds=interval)) \
        .aggregate(last=Max("sequence_number"))["last"]
    if stale is not None:
        checker.error(covered + 1, f"entries {covered + 1}..{stale} are older than {interval:g} s and no checkpoint "
                                   "in the archive covers them", range=[covered + 1, stale])


def record_run(tenant_id: int, kind: str, report: dict[str, Any]) -> None:
    VerificationRun.objects.create(tenant_id=tenant_id, kind=kind, finished_at=timezone.now(), valid=report["valid"],
                                   total_entries=report["totalEntries"], report=report)


# ---- one entry, as an operator checks it (the admin's ledger entry page) ---------------------

class EntryCheck(TypedDict):
    name: str
    ok: bool
    detail: str


class EntryEvidence(TypedDict):
    """What one entry is checked with: its hashed fields, its canonical payload (``None``: in
    neither the hot store nor the archive; ``payloadInHotStore`` false: pruned, read from the
    archive), the latest signed checkpoint and the entry's inclusion proof against it (``None``
    while no checkpoint covers the entry)."""

    fields: HashedFields
    currentHash: str
    payload: str | None
    payloadInHotStore: bool
    checkpoint: CheckpointOut | None
    proof: InclusionProofOut | None


def entry_evidence(*, entry: LedgerEntry) -> EntryEvidence:
    tenant_id = entry.tenant_id
    payload = entry_payloads(tenant_id=tenant_id, entries=[entry], fresh=True)[entry.sequence_number]
    latest = checkpoints_list(tenant_id=tenant_id).order_by("-tree_size").first()
    covered = latest is not None and latest.tree_size >= entry.sequence_number
    return {
        "fields": hashed_fields(entry),
        "currentHash": entry.current_hash,
        "payload": payload,
        "payloadInHotStore": payload_in_hot_store(tenant_id=tenant_id, payload_hash=entry.payload_hash),
        "checkpoint": checkpoint_repr(latest) if latest is not None and covered else None,
        "proof": inclusion(tenant_id=tenant_id, entry=entry, tree_size=latest.tree_size)
        if latest is not None and covered else None,
    }


def entry_checks(evidence: EntryEvidence) -> list[EntryCheck]:
    """Each check of one entry, passed or failed, with the ledger's own code: the payload's hash
    (``hashing.payload_hash``), the entry's hash recomputed from its fields
    (``hashing.entry_hash``), the inclusion proof against the signed checkpoint's root
    (``merkle.verify_inclusion``) and the checkpoint's signature (``keys.verify_checkpoint``)."""
    fields, current = evidence["fields"], evidence["currentHash"]
    checks: list[EntryCheck] = []

    payload = evidence["payload"]
    if payload is None:
        checks.append({"name": "payload hash", "ok": False,
                       "detail": "the payload is in neither the hot store nor the archive"})
    else:
        try:
            recomputed = payload_hash(json.loads(payload))
        except (ValueError, LedgerHashError) as exc:
            checks.append({"name": "payload hash", "ok": False, "detail": f"the payload cannot be hashed: {exc}"})
        else:
            ok = recomputed == fields["payloadHash"]
            detail = f"SHA-256 of the canonical payload is {recomputed}"
            if not ok:
                detail += f", not the entry's payloadHash {fields['payloadHash']}"
            checks.append({"name": "payload hash", "ok": ok, "detail": detail})

    try:
        recomputed = entry_hash(
            id=fields["id"], tenant_id=fields["tenantId"], sequence_number=fields["sequenceNumber"],
            previous_hash=fields["previousHash"], timestamp=fields["timestamp"], action_type=fields["actionType"],
            resource_type=fields["resourceType"], resource_id=fields["resourceId"], actor_id=fields["actorId"],
            actor_type=fields["actorType"], payload_hash=fields["payloadHash"], metadata=fields["metadata"])
    except LedgerHashError as exc:
        checks.append({"name": "entry hash", "ok": False, "detail": f"the entry cannot be hashed: {exc}"})
    else:
        ok = recomputed == current
        checks.append({"name": "entry hash", "ok": ok, "detail": f"recomputed from the entry's fields: {recomputed}"
                       + ("" if ok else f", but currentHash is {current}")})

    checkpoint, proof = evidence["checkpoint"], evidence["proof"]
    if checkpoint is None or proof is None:
        checks.append({"name": "inclusion proof", "ok": False,
                       "detail": "no signed checkpoint covers this entry yet"})
        checks.append({"name": "checkpoint signature", "ok": False, "detail": "no checkpoint to check"})
        return checks
    try:
        included = verify_inclusion(fields["sequenceNumber"] - 1, checkpoint["treeSize"], entry_leaf_hash(current),
                                    [bytes.fromhex(p) for p in proof["auditPath"]],
                                    bytes.fromhex(checkpoint["rootHash"]))
    except (MerkleError, ValueError):
        included = False
    checks.append({"name": "inclusion proof", "ok": included,
                   "detail": f"leaf {fields['sequenceNumber'] - 1} with an audit path of {len(proof['auditPath'])} "
                             f"hashes {'leads' if included else 'does not lead'} to the root "
                             f"{checkpoint['rootHash']} of the checkpoint at tree size {checkpoint['treeSize']}"})
    signed = checkpoint["tenantId"] == fields["tenantId"] and verify_checkpoint(checkpoint)
    checks.append({"name": "checkpoint signature", "ok": signed,
                   "detail": f"Ed25519 signature by key {checkpoint['keyId']} "
                             f"{'verifies' if signed else 'does not verify'} with the ledger's trusted public keys"})
    return checks
