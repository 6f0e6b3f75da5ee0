"""Whole-chain verification of the database (``POST /api/ledger/verify``, ``ledger_verify``):
every entry, payload (from the hot store or the archive), Merkle node and checkpoint, checked
by :class:`ledger.checker.ChainChecker`, and the outcome recorded."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from ledger.checker import ChainChecker
from ledger.models import Checkpoint, LedgerEntry, MerkleNode, VerificationRun
from ledger.representations import checkpoint_repr, entry_repr
from ledger.selectors import entry_payloads, height

CHUNK = 5000


def verify_chain(*, tenant_id: int) -> dict[str, Any]:
    """Verify the tenant's whole ledger in the database (payloads from the hot store or the
    archive) and record the outcome."""
    nodes = {(level, index): h for level, index, h in
             MerkleNode.objects.filter(tenant_id=tenant_id).values_list("level", "index", "hash")}
    checker = ChainChecker(tenant_id=tenant_id, stored_nodes=nodes,
                           checkpoints=[checkpoint_repr(c) for c in Checkpoint.objects.filter(tenant_id=tenant_id)])
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
    report = checker.report()
    record_run(tenant_id, "chain", report)
    return report


def record_run(tenant_id: int, kind: str, report: dict[str, Any]) -> None:
    VerificationRun.objects.create(tenant_id=tenant_id, kind=kind, finished_at=timezone.now(), valid=report["valid"],
                                   total_entries=report["totalEntries"], report=report)
