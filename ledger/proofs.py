"""Inclusion and consistency proofs (RFC 9162 §2.1.3–2.1.4) served from the database.

A proof needs the roots of O(log n) subtrees. Each is split into perfect, aligned subtrees;
those of at least ``2**MAESTRO_LEDGER_NODE_MIN_LEVEL`` leaves are read from the stored Merkle
nodes, the smaller ones are hashed from their (fewer than that many) leaves. The proof is first
generated against a recording stub to learn which ranges it needs, then everything is fetched
in two queries and the proof is generated for real.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import Q

from ledger.merkle import (
    EMPTY_ROOT,
    consistency_proof_from,
    entry_leaf_hash,
    inclusion_proof_from,
    node_hash,
    perfect_blocks,
    root_from_hashes,
)
from ledger.models import LedgerEntry, MerkleNode
from ledger.representations import ConsistencyProofOut, InclusionProofOut, checkpoint_repr
from ledger.selectors import checkpoint_at, height
from maestro.core.exceptions import ValidationFailed

_DUMMY = bytes(32)


class _Tree:
    """Subtree roots of one tenant's log, from stored nodes plus leaves."""

    def __init__(self, tenant_id: int) -> None:
        self.tenant_id = tenant_id
        self.min_level = settings.MAESTRO_LEDGER_NODE_MIN_LEVEL
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.leaves: dict[int, bytes] = {}  # leaf index -> leaf hash

    def prefetch(self, ranges: list[tuple[int, int]]) -> None:
        wanted_nodes: set[tuple[int, int]] = set()
        leaf_ranges: list[tuple[int, int]] = []
        for start, end in ranges:
            for level, index in perfect_blocks(start, end):
                if level >= self.min_level:
                    wanted_nodes.add((level, index))
                else:
                    leaf_ranges.append((index << level, (index + 1) << level))
        if wanted_nodes:
            query = Q()
            for level, index in wanted_nodes:
                query |= Q(level=level, index=index)
            for level, index, h in MerkleNode.objects.filter(query, tenant_id=self.tenant_id) \
                    .values_list("level", "index", "hash"):
                self.nodes[(level, index)] = bytes.fromhex(h)
            for level, index in wanted_nodes - set(self.nodes):
                # Not stored (e.g. the node level setting was lowered): hash it from its leaves.
                leaf_ranges.append((index << level, (index + 1) << level))
        self._fetch_leaves(leaf_ranges)

    def _fetch_leaves(self, ranges: list[tuple[int, int]]) -> None:
        if not ranges:
            return
        query = Q()
        for start, end in ranges:
            query |= Q(sequence_number__gt=start, sequence_number__lte=end)  # leaf i = sequence i + 1
        for seq, current in LedgerEntry.objects.filter(query, tenant_id=self.tenant_id) \
                .values_list("sequence_number", "current_hash"):
            self.leaves[seq - 1] = entry_leaf_hash(current)

    def block(self, level: int, index: int) -> bytes:
        if (level, index) in self.nodes:
            return self.nodes[(level, index)]
        start = index << level
        return root_from_hashes([self.leaves[i] for i in range(start, start + (1 << level))])

    def subtree(self, start: int, end: int) -> bytes:
        blocks = [self.block(level, index) for level, index in perfect_blocks(start, end)]
        root = blocks[-1]
        for left in reversed(blocks[:-1]):
            root = node_hash(left, root)
        return root


def _with_prefetch(tree: _Tree, generate: Callable[[Callable[[int, int], bytes]], list[bytes]],
                   extra: list[tuple[int, int]]) -> list[bytes]:
    ranges: list[tuple[int, int]] = list(extra)

    def record(start: int, end: int) -> bytes:
        ranges.append((start, end))
        return _DUMMY

    generate(record)
    tree.prefetch(ranges)
    return generate(tree.subtree)


def _tree_size(tenant_id: int, raw: Any, *, name: str, minimum: int) -> int:
    current = height(tenant_id=tenant_id)
    if raw in (None, ""):
        size = current  # the whole tree, which may be smaller than the minimum (an empty ledger)
    else:
        try:
            size = int(raw)
        except (TypeError, ValueError):
            raise ValidationFailed(f"{name} must be an integer", details={name: raw}) from None
    if size < minimum or size > current:
        raise ValidationFailed(f"{name} must be between {minimum} and the tree size {current}",
                               details={name: size, "treeSize": current})
    return size


def inclusion(*, tenant_id: int, entry: LedgerEntry, tree_size: Any = None) -> InclusionProofOut:
    size = _tree_size(tenant_id, tree_size, name="treeSize", minimum=entry.sequence_number)
    index = entry.sequence_number - 1
    tree = _Tree(tenant_id)
    path = _with_prefetch(tree, lambda sub: inclusion_proof_from(sub, index, size), [(0, size)])
    root = tree.subtree(0, size)
    checkpoint = checkpoint_at(tenant_id=tenant_id, tree_size=size)
    return {"leafIndex": index, "treeSize": size, "rootHash": root.hex(), "auditPath": [p.hex() for p in path],
            "leafHash": entry_leaf_hash(entry.current_hash).hex(), "currentHash": entry.current_hash,
            "checkpoint": checkpoint_repr(checkpoint) if checkpoint else None}


def consistency(*, tenant_id: int, first: Any, second: Any) -> ConsistencyProofOut:
    if first in (None, ""):
        raise ValidationFailed("first is required", details={"first": None})
    second_size = _tree_size(tenant_id, second, name="second", minimum=1)
    first_size = _tree_size(tenant_id, first, name="first", minimum=0)
    if first_size > second_size:
        raise ValidationFailed("first must not exceed second", details={"first": first_size, "second": second_size})
    tree = _Tree(tenant_id)
    extra = [(0, second_size)] + ([(0, first_size)] if first_size else [])
    proof = _with_prefetch(tree, lambda sub: consistency_proof_from(sub, first_size, second_size), extra)
    first_root = tree.subtree(0, first_size) if first_size else EMPTY_ROOT
    checkpoints = {size: checkpoint_at(tenant_id=tenant_id, tree_size=size) for size in (first_size, second_size)}
    return {"first": first_size, "second": second_size, "firstRoot": first_root.hex(),
            "secondRoot": tree.subtree(0, second_size).hex(), "proof": [p.hex() for p in proof],
            "checkpoints": {str(k): checkpoint_repr(v) for k, v in checkpoints.items() if v}}
