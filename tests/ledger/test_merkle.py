"""Tests for ledger.merkle: RFC 9162 tree hashes, proofs and the compact frontier.

Published vectors
-----------------
The leaves, roots, node hashes, proofs and compact ranges below are the
RFC 6962 / RFC 9162 SHA-256 test vectors shared by the Certificate
Transparency implementations (C++ ``merkle_tree_test.cc``,
certificate-transparency-go ``merkle``), as carried today by
github.com/transparency-dev/merkle:

* ``testonly/constants.go``: ``LeafInputs``, ``NodeHashes``, ``RootHashes``,
  ``CompactTrees`` (the latter is exactly our :class:`Frontier` node list);
* ``testonly/reference_test.go``: ``TestRefInclusionProof`` and
  ``TestRefConsistencyProof`` (0-based leaf indices);
* ``proof/verify_test.go``: ``inclusionProofs`` (1-based leaf numbers there,
  converted to 0-based indices here), ``consistencyProofs``, and the
  corruption probes of ``corruptInclusionProof`` / ``corruptConsistencyProof``.

On top of them, an obviously-correct recursive implementation written
straight from the RFC 9162 definitions (MTH, PATH, SUBPROOF) cross-checks the
module for every size up to 40.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import partial

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleError,
    consistency_proof,
    consistency_proof_from,
    entry_leaf_hash,
    inclusion_proof,
    inclusion_proof_from,
    leaf_hash,
    leaf_hashes,
    node_hash,
    root,
    root_from_hashes,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)


def h(hex_string: str) -> bytes:
    return bytes.fromhex(hex_string)


# --- published vectors (transparency-dev/merkle, see module docstring) -------

LEAVES = [
    h(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
]

# RootHashes(): index = tree size.
ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# NodeHashes(): [level][index] of every perfect subtree of the 8-leaf tree.
NODES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]

# CompactTrees(): the compact range [0, size) for every size, largest first.
COMPACT = [
    [],
    [NODES[0][0]],
    [NODES[1][0]],
    [NODES[1][0], NODES[0][2]],
    [NODES[2][0]],
    [NODES[2][0], NODES[0][4]],
    [NODES[2][0], NODES[1][2]],
    [NODES[2][0], NODES[1][2], NODES[0][6]],
    [NODES[3][0]],
]

# (index, size, path): TestRefInclusionProof plus verify_test.go inclusionProofs.
INCLUSION = [
    (0, 1, []),
    (0, 2, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")]),
    (1, 2, [h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")]),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

# (first, second, proof): TestRefConsistencyProof plus verify_test.go consistencyProofs.
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")  # verify_test.go


# --- reference implementation, straight from RFC 9162 section 2.1 ------------


def ref_mth(d: Sequence[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[(bit // 8) % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


# --- hashing primitives and roots ---------------------------------------------


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT == ROOTS[0]
    assert root([]) == ROOTS[0]
    assert root_from_hashes([]) == ROOTS[0]
    assert Frontier().root() == ROOTS[0]


def test_leaf_and_node_hashes_match_published_node_hashes() -> None:
    # level 0 = leaf_hash of each input; higher levels = node_hash of children
    assert leaf_hashes(LEAVES) == NODES[0]
    assert [leaf_hash(d) for d in LEAVES] == NODES[0]
    for level in range(1, 4):
        below = NODES[level - 1]
        assert [node_hash(below[2 * i], below[2 * i + 1]) for i in range(len(NODES[level]))] == NODES[level]


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"") == h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert node_hash(b"", b"") == hashlib.sha256(b"\x01").digest()
    assert leaf_hash(b"\x01") != node_hash(b"", b"")


@pytest.mark.parametrize("size", range(1, 9))
def test_published_roots_for_every_size(size: int) -> None:
    assert root(LEAVES[:size]) == ROOTS[size]
    assert root_from_hashes(NODES[0][:size]) == ROOTS[size]
    assert ref_mth(LEAVES[:size]) == ROOTS[size]


def test_subtree_root_over_a_list() -> None:
    assert subtree_root(NODES[0], 4, 8) == NODES[2][1]
    assert subtree_root(NODES[0], 6, 7) == NODES[0][6]
    assert subtree_root(NODES[0], 0, 8) == ROOTS[8]
    for bad in ((0, 0), (3, 2), (-1, 2), (0, 9)):
        with pytest.raises(MerkleError):
            subtree_root(NODES[0], *bad)


def test_entry_leaf_hash_uses_the_raw_32_bytes_of_current_hash() -> None:
    # given a ledger currentHash
    current = "019f507a0944711799b52d3e1ffae877d8570a503be7697745f2aebded8cad38"
    # then the leaf data is bytes.fromhex(currentHash), not its hex text
    assert entry_leaf_hash(current) == hashlib.sha256(b"\x00" + bytes.fromhex(current)).digest()
    assert entry_leaf_hash(current) == leaf_hash(bytes.fromhex(current))
    for bad in (current.upper(), current[:-2], current + "00", " " + current[1:], "zz" + current[2:]):
        with pytest.raises(MerkleError):
            entry_leaf_hash(bad)


# --- frontier (compact range) -------------------------------------------------


@pytest.mark.parametrize("size", range(9))
def test_frontier_matches_published_compact_ranges(size: int) -> None:
    # given the published leaves appended one by one
    frontier = Frontier()
    for leaf in NODES[0][:size]:
        frontier.append(leaf)
    # then its nodes are CompactTrees()[size] and its root RootHashes()[size]
    assert frontier.size == size
    assert list(frontier.nodes) == COMPACT[size]
    assert frontier.to_list() == [n.hex() for n in COMPACT[size]]
    assert frontier.root() == ROOTS[size]
    assert Frontier.from_leaf_hashes(NODES[0][:size]) == frontier


def test_frontier_root_equals_tree_root_for_every_size_up_to_300() -> None:
    hashes = leaf_hashes(i.to_bytes(4, "big") for i in range(300))
    frontier = Frontier()
    for size in range(1, 301):
        frontier.append(hashes[size - 1])
        assert frontier.root() == root_from_hashes(hashes[:size])
        assert len(frontier.nodes) == size.bit_count()
    assert root_from_hashes(hashes[:37]) == ref_mth([i.to_bytes(4, "big") for i in range(37)])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=8), max_size=70), st.integers(0, 70))
def test_frontier_root_and_round_trip_at_every_size(leaves: list[bytes], split: int) -> None:
    hashes = leaf_hashes(leaves)
    frontier = Frontier()
    for size, lh in enumerate(hashes, start=1):
        # when one more leaf is appended
        frontier.append(lh)
        # then the root is the full tree's, and persisting/reloading is lossless
        assert frontier.root() == root_from_hashes(hashes[:size])
        stored = json.loads(json.dumps({"size": frontier.size, "nodes": frontier.to_list()}))
        reloaded = Frontier.from_list(stored["size"], stored["nodes"])
        assert reloaded == frontier
        assert reloaded.root() == frontier.root()
    # and extend() after a reload equals appending everything in one go
    split = min(split, len(hashes))
    resumed = Frontier.from_list(split, Frontier.from_leaf_hashes(hashes[:split]).to_list())
    resumed.extend(hashes[split:])
    assert resumed == frontier
    assert resumed.root() == root(leaves)


def test_frontier_copy_is_independent() -> None:
    frontier = Frontier.from_leaf_hashes(NODES[0][:5])
    tentative = frontier.copy()
    tentative.extend(NODES[0][5:8])
    assert frontier.root() == ROOTS[5]
    assert tentative.root() == ROOTS[8]
    assert repr(frontier) == f"Frontier(size=5, root={ROOTS[5].hex()})"
    assert frontier != tentative
    assert frontier != object()


def test_frontier_rejects_bad_input() -> None:
    frontier = Frontier()
    for bad in (b"", b"\x00" * 31, b"\x00" * 33, "00" * 32, bytearray(32)):
        with pytest.raises(MerkleError):
            frontier.append(bad)  # type: ignore[arg-type]
    # a failing extend keeps size and nodes consistent
    with pytest.raises(MerkleError):
        frontier.extend([NODES[0][0], NODES[0][1], b"short"])
    assert frontier.size == 2
    assert frontier.root() == ROOTS[2]
    nodes = [n.hex() for n in COMPACT[3]]
    with pytest.raises(MerkleError, match="size 4 needs 1 nodes, got 2"):
        Frontier.from_list(4, nodes)
    for bad_size in (-1, True, 3.0):
        with pytest.raises(MerkleError):
            Frontier.from_list(bad_size, nodes)  # type: ignore[arg-type]
    for bad_node in (nodes[0].upper(), nodes[0][:-1], "g" * 64, 5):
        with pytest.raises(MerkleError):
            Frontier.from_list(3, [bad_node, nodes[1]])  # type: ignore[list-item]


def test_frontier_matches_the_full_tree_over_a_large_log() -> None:
    # Speed is measured by bench/ledger.py; here only the result over a long run of appends.
    hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(30_000)]
    frontier = Frontier()
    for lh in hashes:
        frontier.append(lh)
    assert frontier.root() == root_from_hashes(hashes)


# --- inclusion proofs ---------------------------------------------------------


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_published_inclusion_proofs(index: int, size: int, path: list[bytes]) -> None:
    assert inclusion_proof(LEAVES[:size], index) == path
    assert inclusion_proof_from(partial(subtree_root, NODES[0]), index, size) == path
    assert verify_inclusion(index, size, NODES[0][index], path, ROOTS[size])


def inclusion_probes(index: int, size: int, path: list[bytes]) -> list[tuple[str, int, int, bytes, list[bytes], bytes]]:
    """corruptInclusionProof() from transparency-dev/merkle proof/verify_test.go."""
    leaf, rt = NODES[0][index], ROOTS[size]
    probes = [
        ("index - 1", index - 1, size, leaf, path, rt),
        ("index + 1", index + 1, size, leaf, path, rt),
        ("index ^ 2", index ^ 2, size, leaf, path, rt),
        ("size * 2", index, size * 2, leaf, path, rt),
        ("size // 2", index, size // 2, leaf, path, rt),
        ("wrong leaf", index, size, b"WrongLeaf", path, rt),
        ("empty root", index, size, leaf, path, EMPTY_ROOT),
        ("random root", index, size, leaf, path, SOME_HASH),
        ("trailing garbage", index, size, leaf, [*path, b""], rt),
        ("trailing root", index, size, leaf, [*path, rt], rt),
        ("preceding garbage", index, size, leaf, [b"", *path], rt),
        ("preceding root", index, size, leaf, [rt, *path], rt),
    ]
    for i in range(len(path)):
        modified = list(path)
        modified[i] = flip(modified[i], 3)
        probes.append((f"modified path[{i}] bit 3", index, size, leaf, modified, rt))
    if path:
        probes.append(("removed component", index, size, leaf, path[:-1], rt))
    if len(path) > 1:
        probes.append(("inserted component", index, size, leaf, [path[0], SOME_HASH, *path[1:]], rt))
    return probes


@pytest.mark.parametrize(("index", "size", "path"), [v for v in INCLUSION if v[1] > 1])
def test_corrupted_published_inclusion_proofs_fail(index: int, size: int, path: list[bytes]) -> None:
    for desc, i, n, leaf, p, rt in inclusion_probes(index, size, path):
        assert not verify_inclusion(i, n, leaf, p, rt), desc


def test_verify_inclusion_single_entry_and_degenerate_sizes() -> None:
    # verify_test.go TestVerifyInclusionSingleEntry / TestVerifyInclusion
    one = leaf_hash(b"data")
    assert verify_inclusion(0, 1, one, [], one)
    assert not verify_inclusion(0, 1, b"", [], one)
    assert not verify_inclusion(0, 1, one, [], b"")
    assert not verify_inclusion(0, 1, b"", [], b"")
    for index, size in ((0, 0), (0, 1), (1, 0), (2, 1)):
        assert not verify_inclusion(index, size, SOME_HASH, [], b"")
        assert not verify_inclusion(index, size, b"", [], EMPTY_ROOT)
        assert not verify_inclusion(index, size, SOME_HASH, [], EMPTY_ROOT)


def test_inclusion_proof_argument_validation() -> None:
    for index in (-1, 8, 100):
        with pytest.raises(MerkleError, match="outside a tree of size 8"):
            inclusion_proof(LEAVES, index)
    with pytest.raises(MerkleError):
        inclusion_proof([], 0)
    with pytest.raises(MerkleError):
        inclusion_proof_from(partial(subtree_root, NODES[0]), 0, -1)


def test_inclusion_proof_from_asks_for_disjoint_ranges_covering_all_other_leaves() -> None:
    # given a DB-like callable that records which ranges it was asked for
    calls: list[tuple[int, int]] = []

    def subtree(start: int, end: int) -> bytes:
        calls.append((start, end))
        return subtree_root(NODES[0], start, end)

    # when
    path = inclusion_proof_from(subtree, 5, 7)
    # then one call per path element, top-down, covering every leaf but 5
    assert calls == [(0, 4), (6, 7), (4, 5)]
    assert path == [NODES[0][4], NODES[0][6], NODES[2][0]]
    assert verify_inclusion(5, 7, NODES[0][5], path, ROOTS[7])


def test_all_inclusion_proofs_match_the_reference_up_to_40_leaves() -> None:
    data = [i.to_bytes(2, "big") for i in range(40)]
    hashes = leaf_hashes(data)
    for size in range(1, 41):
        rt = ref_mth(data[:size])
        for index in range(size):
            path = inclusion_proof_from(partial(subtree_root, hashes), index, size)
            assert path == ref_path(index, data[:size])
            assert verify_inclusion(index, size, hashes[index], path, rt)


LEAF_LISTS = st.lists(st.binary(max_size=6), min_size=1, max_size=40, unique=True)


@settings(max_examples=400, deadline=None)
@given(LEAF_LISTS, st.data())
def test_inclusion_proofs_verify_and_detect_tampering(leaves: list[bytes], data: st.DataObject) -> None:
    # given a tree, a leaf and its proof
    size = len(leaves)
    index = data.draw(st.integers(0, size - 1), label="index")
    lh, rt = leaf_hash(leaves[index]), root(leaves)
    path = inclusion_proof(leaves, index)
    # then the proof verifies
    assert verify_inclusion(index, size, lh, path, rt)
    # and fails once any bit of the leaf hash, a path element or the root flips
    bit = data.draw(st.integers(0, 255), label="bit")
    assert not verify_inclusion(index, size, flip(lh, bit), path, rt)
    assert not verify_inclusion(index, size, lh, path, flip(rt, bit))
    for i in range(len(path)):
        tampered = [*path[:i], flip(path[i], bit), *path[i + 1 :]]
        assert not verify_inclusion(index, size, lh, tampered, rt)
    # and fails for any other index (leaves are distinct, so no twin leaf)
    other = data.draw(st.integers(-1, size), label="other index")
    assume(other != index)
    assert not verify_inclusion(other, size, lh, path, rt)


# --- consistency proofs -------------------------------------------------------


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_published_consistency_proofs(first: int, second: int, proof: list[bytes]) -> None:
    assert consistency_proof(LEAVES, first, second) == proof
    assert consistency_proof_from(partial(subtree_root, NODES[0]), first, second) == proof
    assert verify_consistency(first, second, ROOTS[first], ROOTS[second], proof)


def consistency_probes(
    first: int, second: int, proof: list[bytes]
) -> list[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    """corruptConsistencyProof() from transparency-dev/merkle proof/verify_test.go."""
    r1, r2 = ROOTS[first], ROOTS[second]
    probes = [
        ("first - 1", first - 1, second, r1, r2, proof),
        ("first + 1", first + 1, second, r1, r2, proof),
        ("first ^ 2", first ^ 2, second, r1, r2, proof),
        ("second * 2", first, second * 2, r1, r2, proof),
        ("second // 2", first, second // 2, r1, r2, proof),
        ("wrong first root", first, second, b"WrongRoot", r2, proof),
        ("wrong second root", first, second, r1, b"WrongRoot", proof),
        ("swapped roots", first, second, r2, r1, proof),
        ("empty proof", first, second, r1, r2, []),
        ("trailing garbage", first, second, r1, r2, [*proof, b""]),
        ("trailing first root", first, second, r1, r2, [*proof, r1]),
        ("trailing second root", first, second, r1, r2, [*proof, r2]),
        ("preceding garbage", first, second, r1, r2, [b"", *proof]),
        ("preceding first root", first, second, r1, r2, [r1, *proof]),
        ("preceding second root", first, second, r1, r2, [r2, *proof]),
        ("preceding proof[0]", first, second, r1, r2, [proof[0], *proof]),
        ("truncated proof", first, second, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        modified = list(proof)
        modified[i] = flip(modified[i], 4)
        probes.append((f"modified proof[{i}] bit 4", first, second, r1, r2, modified))
    return probes


@pytest.mark.parametrize(("first", "second", "proof"), [v for v in CONSISTENCY if v[2]])
def test_corrupted_published_consistency_proofs_fail(first: int, second: int, proof: list[bytes]) -> None:
    for desc, m, n, r1, r2, p in consistency_probes(first, second, proof):
        assert not verify_consistency(m, n, r1, r2, p), desc


def test_verify_consistency_edge_cases() -> None:
    # Adapted from verify_test.go TestVerifyConsistency.  One deliberate
    # difference: Go accepts any root for size 0; we require EMPTY_ROOT, since
    # that is the only honest MTH of the empty tree.
    r1, r2 = ROOTS[1], ROOTS[2]
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 2, EMPTY_ROOT, r2, [])
    assert verify_consistency(1, 1, r1, r1, [])
    assert not verify_consistency(0, 2, r1, r2, [])  # size 0 but not the empty root
    assert not verify_consistency(1, 1, r1, r2, [])  # same size, different roots
    assert not verify_consistency(1, 0, r1, r2, [])  # time travel
    assert not verify_consistency(2, 1, r2, r1, [])
    assert not verify_consistency(1, 2, r1, r2, [])  # empty proof
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])  # proof must be empty
    assert not verify_consistency(0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(-1, 1, r1, r1, [])
    assert consistency_proof(LEAVES, 0, 8) == []
    assert consistency_proof(LEAVES, 8, 8) == []


def test_consistency_proof_argument_validation() -> None:
    with pytest.raises(MerkleError, match="first size 5 exceeds second size 4"):
        consistency_proof(LEAVES, 5, 4)
    with pytest.raises(MerkleError, match="exceeds the 8 leaves"):
        consistency_proof(LEAVES, 1, 9)
    for first, second in ((-1, 3), (1, -1), (True, 3), (1, 2.0)):
        with pytest.raises(MerkleError):
            consistency_proof_from(partial(subtree_root, NODES[0]), first, second)  # type: ignore[arg-type]


def test_all_consistency_proofs_match_the_reference_up_to_40_leaves() -> None:
    data = [i.to_bytes(2, "big") for i in range(40)]
    hashes = leaf_hashes(data)
    roots = [root_from_hashes(hashes[:n]) for n in range(41)]
    for second in range(1, 41):
        for first in range(1, second + 1):
            proof = consistency_proof_from(partial(subtree_root, hashes), first, second)
            assert proof == ref_subproof(first, data[:second], True)
            assert verify_consistency(first, second, roots[first], roots[second], proof)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=6), min_size=1, max_size=40), st.data())
def test_consistency_proofs_verify_and_detect_tampering(leaves: list[bytes], data: st.DataObject) -> None:
    # given two sizes 0 < first <= second of the same log and the proof
    second = data.draw(st.integers(1, len(leaves)), label="second")
    first = data.draw(st.integers(1, second), label="first")
    r1, r2 = root(leaves[:first]), root(leaves[:second])
    proof = consistency_proof(leaves, first, second)
    # then it verifies
    assert verify_consistency(first, second, r1, r2, proof)
    # and fails once any bit of either root or of any proof element flips
    bit = data.draw(st.integers(0, 255), label="bit")
    assert not verify_consistency(first, second, flip(r1, bit), r2, proof)
    assert not verify_consistency(first, second, r1, flip(r2, bit), proof)
    for i in range(len(proof)):
        tampered = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
        assert not verify_consistency(first, second, r1, r2, tampered)
    # and fails when truncated or extended
    if proof:
        assert not verify_consistency(first, second, r1, r2, proof[:-1])
    assert not verify_consistency(first, second, r1, r2, [*proof, r2])
    # and a frontier persisted at `first` reaches the same `second` root
    frontier = Frontier.from_leaf_hashes(leaf_hashes(leaves[:first]))
    frontier = Frontier.from_list(frontier.size, frontier.to_list())
    frontier.extend(leaf_hashes(leaves[first:second]))
    assert frontier.root() == r2
