"""The chain checker the database verifier, the archive verifier and the archiver share: it is
fed entries in order and recomputes everything with the reference encoder
(``hashing.entry_hash``), not the sequencer's template fast path, so a bug in one cannot hide in
the other:

- sequence numbers run 1, 2, 3… with no gap (``missingEntries``);
- each ``payloadHash`` is the SHA-256 of the stored payload, and each ``currentHash`` is the
  hash of the entry's fields (``invalidHashes``);
- each ``previousHash`` is the previous entry's ``currentHash`` (``brokenChains``);
- the Merkle root over the entries equals every signed checkpoint's ``rootHash`` at its
  ``treeSize``, and every signature verifies with a trusted key;
- the stored Merkle nodes proofs are served from match the recomputed ones.

Each problem is reported at the first sequence number it shows at; ``lastVerifiedSequence`` is
the last one before the first problem.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.conf import settings
from django.utils import timezone

from ledger.hashing import GENESIS_HASH, LedgerHashError, entry_hash, format_timestamp
from ledger.keys import verify_checkpoint
from ledger.merkle import Frontier, MerkleError, entry_leaf_hash, extend_collecting

MAX_ERRORS = 100


class ChainChecker:
    def __init__(self, *, tenant_id: int, checkpoints: Iterable[Mapping[str, Any]] = (),
                 stored_nodes: dict[tuple[int, int], str] | None = None) -> None:
        self.tenant_id = tenant_id
        self.expected, self.previous_hash, self.frontier = 1, GENESIS_HASH, Frontier()
        self.merkle_ok = True  # False after a gap: later roots cannot be compared
        self.checkpoints: Iterator[Mapping[str, Any]] = iter(sorted(checkpoints, key=lambda c: c["treeSize"]))
        self.next_checkpoint = next(self.checkpoints, None)
        self.last_good_checkpoint = 0
        self.stored_nodes = stored_nodes
        self.total = self.broken = self.invalid = self.missing = self.checkpoints_verified = 0
        self.errors: list[dict[str, Any]] = []
        self.error_count = 0
        self.started = time.perf_counter()

    def error(self, seq: int | None, message: str, severity: str = "critical", **extra: Any) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"sequenceNumber": seq, "error": message, "severity": severity, **extra})

    def resync(self, *, first: int, previous_hash: str, frontier: Frontier) -> None:
        """Continue after a hole the caller has already reported (an unreadable segment)."""
        self.expected, self.previous_hash, self.frontier = first, previous_hash, frontier
        self.merkle_ok = frontier.size == first - 1

    def feed(self, entry: Mapping[str, Any], payload_jcs: str | None) -> None:
        seq = entry.get("sequenceNumber")
        if not isinstance(seq, int) or seq < self.expected:
            self.error(seq if isinstance(seq, int) else None, f"entry out of order (expected {self.expected})")
            self.invalid += 1
            return
        self.total += 1
        if seq > self.expected:
            self.missing += seq - self.expected
            self.error(self.expected, f"entries {self.expected}..{seq - 1} are missing")
            self.merkle_ok = False
        stored = entry.get("currentHash")
        if payload_jcs is None:
            self.error(seq, "payload is missing from the store and the archive", "error")
        elif hashlib.sha256(payload_jcs.encode()).hexdigest() != entry.get("payloadHash"):
            self.invalid += 1
            self.error(seq, "payloadHash does not match the stored payload")
        try:
            recomputed = entry_hash(
                id=entry["id"], tenant_id=entry["tenantId"], sequence_number=seq,
                previous_hash=entry["previousHash"], timestamp=entry["timestamp"], action_type=entry["actionType"],
                resource_type=entry["resourceType"], resource_id=entry["resourceId"], actor_id=entry["actorId"],
                actor_type=entry["actorType"], payload_hash=entry["payloadHash"], metadata=entry["metadata"])
        except (LedgerHashError, KeyError, TypeError) as exc:
            recomputed = None
            self.invalid += 1
            self.error(seq, f"entry cannot be hashed: {exc}")
        else:
            if recomputed != stored:
                self.invalid += 1
                self.error(seq, "currentHash does not match the entry's content")
        if entry.get("tenantId") != self.tenant_id:
            self.invalid += 1
            self.error(seq, "entry belongs to another tenant")
        if entry.get("previousHash") != self.previous_hash:
            self.broken += 1
            self.error(seq, "previousHash does not match the previous entry's currentHash")
        self.previous_hash = stored if isinstance(stored, str) else ""
        self.expected = seq + 1
        self._merkle(seq, stored, recomputed)

    def _merkle(self, seq: int, stored: Any, recomputed: str | None) -> None:
        if not self.merkle_ok:
            return
        try:
            leaf = entry_leaf_hash(stored)
        except MerkleError:
            leaf = entry_leaf_hash(recomputed or "0" * 64)
        if self.stored_nodes is None:
            self.frontier.append(leaf)
        else:
            for level, index, h in extend_collecting(self.frontier, [leaf], settings.MAESTRO_LEDGER_NODE_MIN_LEVEL):
                kept = self.stored_nodes.get((level, index))
                if kept is not None and kept != h.hex():  # a missing node is recomputed by proofs
                    self.error((index + 1) << level, f"stored Merkle node (level {level}, index {index}) is wrong; "
                                                     "proofs over it would fail", "error")
        self._checkpoints_up_to(seq)

    def _checkpoints_up_to(self, size: int) -> None:
        while self.next_checkpoint is not None and self.next_checkpoint["treeSize"] <= size:
            cp = self.next_checkpoint
            self.next_checkpoint = next(self.checkpoints, None)
            self.check_checkpoint(cp, compare_root=cp["treeSize"] == size and self.merkle_ok)

    def check_checkpoint(self, cp: Mapping[str, Any], *, compare_root: bool) -> None:
        tree_size = cp["treeSize"]
        self.checkpoints_verified += 1
        if cp.get("tenantId") != self.tenant_id or not verify_checkpoint(cp):
            self.error(tree_size, f"checkpoint at treeSize {tree_size} has no valid signature")
        elif compare_root:
            if self.frontier.root().hex() == cp["rootHash"]:
                self.last_good_checkpoint = tree_size
            else:
                self.error(tree_size, f"Merkle root over entries 1..{tree_size} differs from the signed checkpoint",
                           range=[self.last_good_checkpoint + 1, tree_size])

    def finish(self, *, height: int) -> None:
        if height >= self.expected:
            self.missing += height - self.expected + 1
            self.error(self.expected, f"entries {self.expected}..{height} are missing (head is at {height})")
        while self.next_checkpoint is not None:
            cp = self.next_checkpoint
            self.next_checkpoint = next(self.checkpoints, None)
            if cp["treeSize"] >= self.expected:
                self.error(self.expected, f"signed checkpoint at treeSize {cp['treeSize']} covers entries that "
                                          "are missing")

    def report(self, **extra: Any) -> dict[str, Any]:
        self.errors.sort(key=lambda e: (e["sequenceNumber"] is None, e["sequenceNumber"] or 0))
        seqs = [e["sequenceNumber"] for e in self.errors if e["sequenceNumber"] is not None]
        last_verified = (min(seqs) - 1) if seqs else self.expected - 1
        return {
            "valid": self.error_count == 0,
            "tenantId": self.tenant_id,
            "totalEntries": self.total,
            "brokenChains": self.broken,
            "invalidHashes": self.invalid,
            "missingEntries": self.missing,
            "lastVerifiedSequence": last_verified if self.error_count else self.expected - 1,
            "checkpointsVerified": self.checkpoints_verified,
            "rootHash": self.frontier.root().hex() if self.merkle_ok else None,
            "verificationTime": round((time.perf_counter() - self.started) * 1000, 3),
            "verifiedAt": format_timestamp(timezone.now()),
            "errorCount": self.error_count,
            "errors": self.errors,
            **extra,
        }
