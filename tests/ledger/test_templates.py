"""The sequencer's fast path (hashing.entry_template / chain_templates) gives exactly the
reference hashes; the Merkle helpers the node store and proofs use are the RFC 9162 tree."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import merkle
from ledger.hashing import GENESIS_HASH, LedgerHashError, chain, chain_templates, entry_template
from ledger.merkle import extend_collecting, perfect_blocks

JSON = st.recursive(st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8)
                    | st.floats(allow_nan=False, allow_infinity=False),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=8)
TEXT = st.text(min_size=1, max_size=12)  # any characters: quotes, newlines, the key names themselves


@st.composite
def entries(draw):
    n = draw(st.integers(1, 6))
    return [{"id": uuid.UUID(int=draw(st.integers(0, 2**128 - 1))), "tenant_id": draw(st.integers(1, 10**6)),
             "sequence_number": i + 1,
             "timestamp": datetime.fromtimestamp(draw(st.integers(0, 4 * 10**9)) / 1000, tz=UTC),
             "action_type": draw(TEXT), "resource_type": draw(TEXT),
             "resource_id": draw(st.one_of(st.text(max_size=12), st.none())),
             "actor_id": draw(st.one_of(TEXT, st.none())), "actor_type": draw(st.sampled_from(["user", "api"])),
             "payload_hash": draw(st.text("0123456789abcdef", min_size=64, max_size=64)),
             "metadata": draw(st.dictionaries(st.text(max_size=14), JSON, max_size=4))} for i in range(n)]


def _template(entry: dict) -> str:
    return entry_template(**{k: v for k, v in entry.items() if k != "sequence_number"})


@given(entries())
def test_templates_hash_exactly_like_the_reference_chain(batch):
    # the tenant is shared within a chain
    for e in batch:
        e["tenant_id"] = batch[0]["tenant_id"]
    assert chain_templates([_template(e) for e in batch], 1, GENESIS_HASH) == chain(batch, GENESIS_HASH)


@given(entries())
def test_a_template_given_its_metadata_encoded_is_the_template_that_encodes_it(batch):
    from ledger.hashing import canonical_json

    for entry in batch:
        given = entry_template(metadata_jcs=canonical_json(entry["metadata"]),
                               **{k: v for k, v in entry.items() if k != "sequence_number"})
        assert given == _template(entry)


def test_metadata_that_mimics_the_holes_cannot_confuse_the_template():
    entry = {"id": uuid.uuid4(), "tenant_id": 1, "timestamp": datetime.now(UTC), "action_type": "a",
             "resource_type": "b", "resource_id": ',"sequenceNumber":', "actor_id": ',"previousHash":"',
             "actor_type": "api", "payload_hash": "a" * 64,
             "metadata": {"previousHash": "x", "sequenceNumber": 9, "n": "\n"}}
    assert chain_templates([_template(entry)], 1, GENESIS_HASH) == chain([{**entry, "sequence_number": 1}],
                                                                        GENESIS_HASH)


def test_templates_refuse_what_entry_hash_refuses():
    with pytest.raises(LedgerHashError):
        entry_template(id=uuid.uuid4(), tenant_id=1, timestamp=datetime.now(UTC), action_type="a",
                       resource_type="b", resource_id="", actor_id="", actor_type="robot", payload_hash="a" * 64,
                       metadata={})
    with pytest.raises(LedgerHashError):
        chain_templates(["no holes"], 1, GENESIS_HASH)
    with pytest.raises(LedgerHashError):
        chain_templates([], 2, GENESIS_HASH)  # genesis hash only starts a chain at 1


@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=4), min_level=st.integers(1, 4))
def test_extend_collecting_returns_every_completed_perfect_subtree(sizes, min_level):
    leaves = merkle.leaf_hashes([bytes([i % 256, i // 256]) for i in range(sum(sizes))])
    frontier, done, start = merkle.Frontier(), [], 0
    for size in sizes:
        done += extend_collecting(frontier, leaves[start:start + size], min_level)
        start += size
    n = len(leaves)
    assert frontier == merkle.Frontier.from_leaf_hashes(leaves)
    assert {(lv, i): h for lv, i, h in done} == {
        (lv, i): merkle.root_from_hashes(leaves[i << lv:(i + 1) << lv])
        for lv in range(min_level, n.bit_length()) for i in range(n >> lv)}


@given(n=st.integers(1, 300), data=st.data())
def test_perfect_blocks_fold_to_the_root_of_every_range_a_proof_asks_for(n, data):
    # given: the ranges RFC 9162 proof generation requests
    leaves = merkle.leaf_hashes([i.to_bytes(2, "big") for i in range(n)])
    ranges: list[tuple[int, int]] = []

    def record(start: int, end: int) -> bytes:
        ranges.append((start, end))
        return bytes(32)

    merkle.inclusion_proof_from(record, data.draw(st.integers(0, n - 1)), n)
    merkle.consistency_proof_from(record, data.draw(st.integers(0, n)), n)

    # then: folding the perfect blocks right to left gives each range's Merkle root
    for start, end in ranges + [(0, n)]:
        blocks = perfect_blocks(start, end)
        assert all(i << lv >= start and (i + 1) << lv <= end for lv, i in blocks)
        roots = [merkle.root_from_hashes(leaves[i << lv:(i + 1) << lv]) for lv, i in blocks]
        root = roots[-1]
        for left in reversed(roots[:-1]):
            root = merkle.node_hash(left, root)
        assert root == merkle.root_from_hashes(leaves[start:end])
