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

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from ledger.archive import ArchiveError, backend_for, checkpoint_key
from ledger.checker import ChainChecker
from ledger.checkpoint_archive import archived_checkpoints
from ledger.keys import verify_checkpoint
from ledger.models import Checkpoint, LedgerEntry, MerkleNode, VerificationRun
from ledger.representations import checkpoint_repr, entry_repr
from ledger.selectors import entry_payloads, height, tenant_slug

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
