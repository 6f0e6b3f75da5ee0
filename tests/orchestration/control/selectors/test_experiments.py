"""runExperiment assignment (DESIGN §7.3): deterministic, and weights respected."""

from __future__ import annotations

import hashlib
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from orchestration.control.selectors.experiments import assign_variant, bucket_of


def test_bucket_is_the_documented_hash():
    # given
    expected = int(hashlib.sha256(b"exp-001:alice").hexdigest()[:8], 16) % 100

    # then
    assert bucket_of("exp-001", "alice") == expected


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_same_entity_always_gets_the_same_variant(experiment_id, entity_id):
    weights = [("control", 34), ("a", 33), ("b", 33)]
    assert assign_variant(experiment_id, entity_id, weights) == assign_variant(experiment_id, entity_id, weights)


def test_buckets_walk_the_cumulative_weights():
    # given: bucket b falls in [0, 70) → control, [70, 100) → v2
    weights = [("control", 70), ("v2", 30)]

    # then
    for n in range(300):
        entity = f"e{n}"
        expected = "control" if bucket_of("exp-x", entity) < 70 else "v2"
        assert assign_variant("exp-x", entity, weights) == expected


def test_weights_are_respected_within_tolerance_over_10000_entities():
    # given
    weights = [("control", 70), ("v2", 20), ("v3", 10)]

    # when
    counts = Counter(assign_variant("exp-weights", f"user-{n}", weights) for n in range(10_000))

    # then: 1.5 percentage points is > 4 standard deviations for each share at n=10,000
    for key, weight in weights:
        assert abs(counts[key] / 10_000 * 100 - weight) < 1.5, counts


def test_a_zero_weight_variant_gets_nobody():
    # when
    counts = Counter(assign_variant("exp-z", f"u{n}", [("a", 0), ("b", 100)]) for n in range(2000))

    # then
    assert counts == {"b": 2000}
