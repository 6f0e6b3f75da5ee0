"""RFC 9162 (Certificate Transparency v2) Merkle tree over a tenant's ledger.

Leaf ``i`` (``sequenceNumber - 1``) is the 32 raw bytes of entry ``i``'s
``currentHash``; :func:`entry_leaf_hash` maps a hex ``currentHash`` to its leaf
hash.  Hashing is domain-separated exactly as in RFC 9162 section 2.1.1::

    MTH({})      = SHA-256()                      (:data:`EMPTY_ROOT`)
    leaf hash    = SHA-256(0x00 || d)             (:func:`leaf_hash`)
    node hash    = SHA-256(0x01 || left || right) (:func:`node_hash`)

:func:`root`, :func:`inclusion_proof` and :func:`consistency_proof` take raw
leaf data and hash it.  :func:`root_from_hashes`, :class:`Frontier` and the
``*_from`` generators take leaf hashes; the generators read them through a
``subtree(start, end) -> MTH`` callable so a DB-backed caller can serve proofs
for a large log without materialising it.  :class:`Frontier` is the compact
range ``[0, size)`` that a sequencer persists per tenant to advance the tree
head in O(log n) per entry without rereading the log.

Generators raise :class:`MerkleError` for impossible arguments; verifiers
follow the RFC and simply return ``False`` for anything that does not verify,
including malformed sizes or hash lengths, because their inputs are untrusted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Final, TypeAlias

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "MerkleError",
    "SubtreeRoot",
    "consistency_proof",
    "consistency_proof_from",
    "entry_leaf_hash",
    "inclusion_proof",
    "inclusion_proof_from",
    "leaf_hash",
    "leaf_hashes",
    "node_hash",
    "root",
    "root_from_hashes",
    "subtree_root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
EMPTY_ROOT: Final[bytes] = hashlib.sha256(b"").digest()
"""Root of the empty tree: SHA-256 of the empty string."""

SubtreeRoot: TypeAlias = Callable[[int, int], bytes]
"""``subtree_root(start, end)`` -> MTH of leaves ``[start, end)``, end > start."""

_sha256 = hashlib.sha256
_HEX64 = re.compile(r"[0-9a-f]{64}")
_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"


class MerkleError(ValueError):
    """Impossible arguments to a tree or proof operation (a caller bug)."""


def leaf_hash(data: bytes) -> bytes:
    """Return ``SHA-256(0x00 || data)``, the RFC 9162 leaf hash."""
    return _sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)``, the RFC 9162 interior hash."""
    return _sha256(_NODE + left + right).digest()


def entry_leaf_hash(current_hash: str) -> bytes:
    """Return the leaf hash of a ledger entry given its hex ``currentHash``.

    The leaf *data* is the 32 raw bytes of the hash, not its hex text; keeping
    that mapping here stops callers from hashing the wrong representation.
    """
    return _sha256(_LEAF + _unhex(current_hash, "currentHash")).digest()


def _unhex(value: str, what: str) -> bytes:
    if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
        raise MerkleError(f"{what} must be 64 lowercase hex digits, got {value!r}")
    return bytes.fromhex(value)


def leaf_hashes(leaves: Iterable[bytes]) -> list[bytes]:
    """Return the leaf hash of every raw leaf, in order."""
    return [_sha256(_LEAF + d).digest() for d in leaves]


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return MTH over already-computed leaf hashes (RFC 9162 section 2.1.1).

    Hashes level by level, carrying an odd last node up unchanged; for the
    RFC's left-balanced tree that is the same as splitting at the largest
    power of two below ``n``, but needs no recursion.
    """
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    sha, node = _sha256, _NODE
    while len(level) > 1:
        nxt = [sha(node + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root(leaves: Sequence[bytes]) -> bytes:
    """Return MTH over raw leaf data: each leaf is hashed with 0x00 first."""
    return root_from_hashes(leaf_hashes(leaves))


def subtree_root(hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """Return MTH of ``hashes[start:end]`` (bind ``hashes`` for a SubtreeRoot)."""
    if not 0 <= start < end <= len(hashes):
        raise MerkleError(f"bad subtree [{start}, {end}) of {len(hashes)} leaves")
    return root_from_hashes(hashes[start:end])


def inclusion_proof_from(subtree: SubtreeRoot, index: int, size: int) -> list[bytes]:
    """Return the audit path PATH(index, D[size]) of RFC 9162 section 2.1.3.1.

    ``subtree(start, end)`` must return the MTH of leaves ``[start, end)``.
    The requested ranges are disjoint and together cover every leaf except
    ``index``; the left-hand ones are always perfect subtrees.  The path is
    ordered from the leaf's sibling up to the root's other child.
    """
    _check_size(size)
    if not isinstance(index, int) or not 0 <= index < size:
        raise MerkleError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            path.append(subtree(mid, hi))
            hi = mid
        else:
            path.append(subtree(lo, mid))
            lo = mid
    path.reverse()
    return path


def consistency_proof_from(subtree: SubtreeRoot, first: int, second: int) -> list[bytes]:
    """Return PROOF(first, D[second]) of RFC 9162 section 2.1.4.1.

    ``subtree(start, end)`` must return the MTH of leaves ``[start, end)``.
    Following the RFC, the proof is empty when ``first == second``; it is
    also empty when ``first == 0`` because every tree extends the empty tree.
    """
    _check_size(first)
    _check_size(second)
    if first > second:
        raise MerkleError(f"first size {first} exceeds second size {second}")
    proof: list[bytes] = []
    if first in (0, second):
        return proof
    # SUBPROOF(m, D[lo:hi], b), unrolled: m is first's offset inside [lo, hi).
    lo, hi, m, have_first_root = 0, second, first, True
    while m != hi - lo:
        mid = lo + _split(hi - lo)
        if m <= mid - lo:
            proof.append(subtree(mid, hi))
            hi = mid
        else:
            proof.append(subtree(lo, mid))
            m -= mid - lo
            lo = mid
            have_first_root = False
    if not have_first_root:
        proof.append(subtree(lo, hi))
    proof.reverse()
    return proof


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Audit path for raw leaf ``index`` in the tree of all ``leaves``."""
    hashes = leaf_hashes(leaves)
    return inclusion_proof_from(partial(subtree_root, hashes), index, len(hashes))


def consistency_proof(leaves: Sequence[bytes], first: int, second: int) -> list[bytes]:
    """Consistency proof between the trees of ``leaves[:first]`` and ``leaves[:second]``."""
    _check_size(second)
    if second > len(leaves):
        raise MerkleError(f"second size {second} exceeds the {len(leaves)} leaves given")
    hashes = leaf_hashes(leaves[:second])
    return consistency_proof_from(partial(subtree_root, hashes), first, second)


def _check_size(size: int) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise MerkleError(f"tree size must be a non-negative int, got {size!r}")


def _valid_hashes(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf_index: int,
    tree_size: int,
    leaf_hash: bytes,
    audit_path: Sequence[bytes],
    root: bytes,
) -> bool:
    """Check an audit path with the algorithm of RFC 9162 section 2.1.3.2.

    ``leaf_hash`` is the *hashed* leaf (for the ledger:
    ``entry_leaf_hash(currentHash)``).  Returns ``False`` for any failure,
    including an out-of-range index and hashes that are not 32 bytes.
    """
    if not 0 <= leaf_index < tree_size or not _valid_hashes(leaf_hash, root, *audit_path):
        return False
    sha, node = _sha256, _NODE
    fn, sn, r = leaf_index, tree_size - 1, leaf_hash
    for p in audit_path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha(node + p + r).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = sha(node + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """Check a consistency proof with the algorithm of RFC 9162 section 2.1.4.2.

    Edge cases the RFC leaves to the caller: ``first == second`` verifies iff
    the proof is empty and the roots are equal; ``first == 0`` verifies iff
    the proof is empty and ``first_root`` is :data:`EMPTY_ROOT`.  Returns
    ``False`` for any failure, including ``first > second``.
    """
    if not 0 <= first <= second or not _valid_hashes(first_root, second_root, *proof):
        return False
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # exact power of two: first_root is a node
        path.insert(0, first_root)
    sha, node = _sha256, _NODE
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = sha(node + c + fr).digest()
            sr = sha(node + c + sr).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = sha(node + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


class Frontier:
    """Compact Merkle frontier: the perfect-subtree roots covering ``[0, size)``.

    One node per set bit of ``size``, largest (leftmost) first, so at most
    ``size.bit_length()`` hashes.  Appending merges equal-sized subtrees like
    a binary counter (amortised one hash per leaf); :meth:`root` folds the
    nodes right to left.  Persist :meth:`to_list` with :attr:`size` and
    rebuild with :meth:`from_list` to resume without rereading the log.
    """

    __slots__ = ("_nodes", "_size")

    def __init__(self) -> None:
        self._nodes: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def nodes(self) -> tuple[bytes, ...]:
        """The perfect-subtree roots, largest (leftmost) first."""
        return tuple(self._nodes)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf given its *leaf hash* (see :func:`entry_leaf_hash`)."""
        if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
            raise MerkleError(f"leaf hash must be {HASH_SIZE} bytes")
        nodes, h, s = self._nodes, leaf_hash, self._size
        while s & 1:
            h = _sha256(_NODE + nodes.pop() + h).digest()
            s >>= 1
        nodes.append(h)
        self._size += 1

    def extend(self, hashes: Iterable[bytes]) -> None:
        """Append many leaf hashes; same result as repeated :meth:`append`."""
        nodes, size, sha, node = self._nodes, self._size, _sha256, _NODE
        pop, push = nodes.pop, nodes.append
        try:
            for leaf in hashes:
                if not isinstance(leaf, bytes) or len(leaf) != HASH_SIZE:
                    raise MerkleError(f"leaf hash must be {HASH_SIZE} bytes")
                h, s = leaf, size
                while s & 1:
                    h = sha(node + pop() + h).digest()
                    s >>= 1
                push(h)
                size += 1
        finally:
            self._size = size  # keep nodes and size consistent if we raise

    def root(self) -> bytes:
        """Return MTH of every leaf appended (``EMPTY_ROOT`` when empty)."""
        nodes = self._nodes
        if not nodes:
            return EMPTY_ROOT
        r = nodes[-1]
        for n in reversed(nodes[:-1]):
            r = _sha256(_NODE + n + r).digest()
        return r

    def copy(self) -> Frontier:
        """Return an independent copy (e.g. to compute a tentative head)."""
        return type(self)._make(self._size, list(self._nodes))

    def to_list(self) -> list[str]:
        """Return the nodes as lowercase hex strings, JSON-storable."""
        return [n.hex() for n in self._nodes]

    @classmethod
    def from_list(cls, size: int, nodes: Sequence[str]) -> Frontier:
        """Rebuild a frontier of ``size`` leaves from :meth:`to_list` output.

        The size cannot be recovered from the nodes alone (only its number of
        set bits can), so it is stored alongside; a mismatch is rejected.
        """
        _check_size(size)
        if len(nodes) != size.bit_count():
            raise MerkleError(f"size {size} needs {size.bit_count()} nodes, got {len(nodes)}")
        return cls._make(size, [_unhex(n, "frontier node") for n in nodes])

    @classmethod
    def from_leaf_hashes(cls, hashes: Iterable[bytes]) -> Frontier:
        """Build a frontier from every leaf hash of a log, in order."""
        frontier = cls()
        frontier.extend(hashes)
        return frontier

    @classmethod
    def _make(cls, size: int, nodes: list[bytes]) -> Frontier:
        frontier = cls()
        frontier._size, frontier._nodes = size, nodes
        return frontier

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._nodes == other._nodes

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()})"


# ---- added by the ledger sequencer work: the stored node index ------------------------------

def extend_collecting(
    frontier: Frontier, leaf_hashes: Iterable[bytes], min_level: int
) -> list[tuple[int, int, bytes]]:
    """Append leaves like :meth:`Frontier.extend` and return every perfect subtree of at least
    ``2**min_level`` leaves (``min_level >= 1``) completed on the way, as
    ``(level, index, hash)``: the subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``.

    A log that stores these serves proofs from O(log n) stored nodes plus fewer than
    ``2**min_level`` leaves per range, instead of rereading every leaf."""
    if min_level < 1:
        raise MerkleError("min_level must be >= 1 (level 0 nodes are the leaves)")
    nodes, size, sha, node = frontier._nodes, frontier._size, _sha256, _NODE  # noqa: SLF001
    done: list[tuple[int, int, bytes]] = []
    try:
        for h in leaf_hashes:
            if not isinstance(h, bytes) or len(h) != HASH_SIZE:
                raise MerkleError(f"leaf hash must be {HASH_SIZE} bytes")
            s, level = size, 0
            while s & 1:
                h = sha(node + nodes.pop() + h).digest()
                s >>= 1
                level += 1
                if level >= min_level:
                    done.append((level, ((size + 1) >> level) - 1, h))
            nodes.append(h)
            size += 1
    finally:
        frontier._size = size  # noqa: SLF001
    return done


def perfect_blocks(start: int, end: int) -> Sequence[tuple[int, int]]:
    """Split ``[start, end)`` of a canonical RFC 9162 subtree into its perfect subtrees, left to
    right, as ``(level, index)``; folding their roots right to left gives the subtree's root."""
    out = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start & ((1 << level) - 1):
            level -= 1
        out.append((level, start >> level))
        start += 1 << level
    return out


__all__ += ["extend_collecting", "perfect_blocks"]
