"""``ledger_verify_archive``: re-hash the archive against the signed checkpoints.

The archive must stand on its own, so this reads the segments from storage, not the database:
every segment's bytes against its manifest (and the database's record of it), every entry and
payload hash, the chain across segment boundaries, the Merkle root carried from segment to
segment against each segment's signed checkpoint, and that every segment the database says was
archived is there. Errors carry the first sequence number they affect.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ledger.archive import (
    ArchiveError,
    SegmentFormatError,
    backend_for,
    decode_segment,
    iter_segment_keys,
    manifest_key,
)
from ledger.checker import ChainChecker
from ledger.hashing import GENESIS_HASH
from ledger.merkle import Frontier, MerkleError
from ledger.models import ArchiveSegment, Checkpoint
from ledger.representations import checkpoint_repr
from ledger.verify import record_run


def _range_of(key: str) -> tuple[int, int] | None:
    try:
        first, last = key.rsplit("/", 1)[1].removesuffix(".jsonl").split("-")
        return int(first), int(last)
    except ValueError:
        return None


def verify_archive(*, tenant_id: int, slug: str, url: str | None = None) -> dict[str, Any]:
    """Re-hashes the tenant's archive (segments named by its ``slug``) against the checkpoints."""
    backend = backend_for(url)
    recorded = {s.key: s for s in ArchiveSegment.objects.filter(tenant_id=tenant_id)}
    signed = {c.tree_size: checkpoint_repr(c) for c in Checkpoint.objects.filter(tenant_id=tenant_id)}
    checker = ChainChecker(tenant_id=tenant_id)
    keys = sorted(iter_segment_keys(backend, slug), key=lambda k: _range_of(k) or (0, 0))
    segments = 0
    resync_next = False
    for key in keys:
        span = _range_of(key)
        first = span[0] if span else checker.expected
        try:
            data = backend.get(key)
        except ArchiveError as exc:
            checker.error(first, f"{key}: unreadable ({exc})", segment=key)
            resync_next = True
            continue
        segments += 1
        errors_before = len(checker.errors)
        digest = hashlib.sha256(data).hexdigest()
        try:
            segment = decode_segment(data)
        except SegmentFormatError as exc:
            checker.error(first + max(exc.line - 2, 0), f"{key}: {exc}", segment=key)
            resync_next = True
            continue
        header = segment.header
        first = header.get("firstSequence", first)
        if first != checker.expected or resync_next:
            if first > checker.expected and not resync_next:
                checker.missing += first - checker.expected
                checker.error(checker.expected, f"entries {checker.expected}..{first - 1} are not in the archive",
                              segment=key)
            _resync(checker, header)
            resync_next = False
        cp = header.get("checkpoint") or {}
        if cp.get("treeSize") != header.get("lastSequence"):
            checker.error(first, f"{key}: its checkpoint does not end the segment", segment=key)
        elif signed.get(cp["treeSize"]) not in (None, cp):
            checker.error(cp["treeSize"], f"{key}: its checkpoint differs from the one in the database", segment=key)
        for entry, payload in segment.entries:
            checker.feed(entry, payload)
        if checker.expected - 1 != header.get("lastSequence"):
            checker.error(checker.expected, f"{key}: ends at {checker.expected - 1}, header says "
                                            f"{header.get('lastSequence')}", segment=key)
        if cp:
            checker.check_checkpoint(cp, compare_root=checker.merkle_ok and cp.get("treeSize") == checker.expected - 1)
        _check_bytes(checker, backend, key, digest, recorded.get(key), first, errors_before)
    for key, row in sorted(recorded.items(), key=lambda kv: kv[1].first_sequence):
        if key not in keys:
            checker.error(row.first_sequence, f"{key} is recorded as archived but missing from {backend.url}",
                          segment=key)
    report = checker.report(segments=segments, archiveUrl=backend.url)
    record_run(tenant_id, "archive", report)
    return report


def _check_bytes(checker: ChainChecker, backend: Any, key: str, digest: str, row: ArchiveSegment | None,
                 first: int, errors_before: int) -> None:
    """A changed byte that leaves every hash intact (whitespace, key order) still shows here.
    Reported at the first entry error of the segment if there is one, else its first entry."""
    entry_errors = [e["sequenceNumber"] for e in checker.errors[errors_before:] if e["sequenceNumber"] is not None]
    at = min(entry_errors) if entry_errors else first
    try:
        manifest = json.loads(backend.get(manifest_key(key)))
        expected = manifest.get("sha256")
    except (ArchiveError, ValueError):
        checker.error(at, f"{key}: manifest missing or unreadable", segment=key)
        expected = None
    if expected is not None and expected != digest:
        checker.error(at, f"{key}: SHA-256 differs from its manifest", segment=key)
    if row is not None and row.sha256 != digest:
        checker.error(at, f"{key}: SHA-256 differs from the database's record", segment=key)


def _resync(checker: ChainChecker, header: dict[str, Any]) -> None:
    start = header.get("startFrontier") or {}
    try:
        frontier = Frontier.from_list(start.get("size", 0), start.get("nodes", []))
    except (MerkleError, TypeError):
        frontier = Frontier()
    checker.resync(first=header.get("firstSequence", 1), previous_hash=header.get("previousHash", GENESIS_HASH),
                   frontier=frontier)
