"""Property: any sequence of appends across tenants, sequenced in any batch sizes, yields
gapless chains whose inclusion and consistency proofs verify against the signed roots."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ledger import merkle, proofs
from ledger.hashing import GENESIS_HASH
from ledger.keys import verify_checkpoint
from ledger.models import Checkpoint, IntakeEntry, LedgerEntry
from ledger.representations import checkpoint_repr
from ledger.sequencer import sweep
from ledger.verify import verify_chain
from maestro.tenancy.services import tenant_get_or_create
from tests.ledger.conftest import append, sequence

pytestmark = pytest.mark.django_db

OPS = st.lists(st.tuples(st.integers(0, 2), st.integers(1, 6), st.booleans()), min_size=1, max_size=8)


@pytest.fixture
def tenants(db):
    return [tenant_get_or_create(slug=f"prop-{i}") for i in range(3)]


@hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, batch_size=st.integers(1, 7), min_level=st.integers(1, 3))
def test_any_appends_yield_gapless_chains_whose_proofs_verify(tenants, ops, batch_size, min_level):
    with transaction.atomic(), override_settings(MAESTRO_LEDGER_NODE_MIN_LEVEL=min_level):
        # given: appends, some sequenced as they come
        appended: dict[int, list] = {t.pk: [] for t in tenants}
        for index, count, now in ops:
            tenant = tenants[index]
            appended[tenant.pk] += [row.id for row in append(tenant, count)]
            if now:
                sequence(tenant, batch_size=batch_size)

        # when: the sweep sequences the rest
        sweep(batch_size=batch_size)

        # then
        assert IntakeEntry.objects.count() == 0
        for tenant in tenants:
            _check_tenant(tenant, appended[tenant.pk])
        transaction.set_rollback(True)


def _check_tenant(tenant, appended_ids: list) -> None:
    chain = list(LedgerEntry.objects.filter(tenant_id=tenant.pk).order_by("sequence_number"))
    assert [e.id for e in chain] == appended_ids  # each exactly once, in intake order
    if not chain:
        return
    assert [e.sequence_number for e in chain] == list(range(1, len(chain) + 1))
    assert [e.previous_hash for e in chain] == [GENESIS_HASH] + [e.current_hash for e in chain[:-1]]
    assert verify_chain(tenant_id=tenant.pk)["valid"] is True
    leaves = [bytes.fromhex(e.current_hash) for e in chain]
    checkpoints = list(Checkpoint.objects.filter(tenant_id=tenant.pk).order_by("tree_size"))
    assert checkpoints[-1].tree_size == len(chain)
    for cp in checkpoints:
        assert verify_checkpoint(checkpoint_repr(cp))
        assert cp.root_hash == merkle.root(leaves[: cp.tree_size]).hex()
    for entry in chain:
        for cp in (c for c in checkpoints if c.tree_size >= entry.sequence_number):
            proof = proofs.inclusion(tenant_id=tenant.pk, entry=entry, tree_size=cp.tree_size)
            assert proof["rootHash"] == cp.root_hash
            assert merkle.verify_inclusion(proof["leafIndex"], proof["treeSize"],
                                           merkle.entry_leaf_hash(entry.current_hash),
                                           [bytes.fromhex(h) for h in proof["auditPath"]],
                                           bytes.fromhex(cp.root_hash))
    sizes = [0] + [c.tree_size for c in checkpoints]
    roots = {0: merkle.EMPTY_ROOT.hex(), **{c.tree_size: c.root_hash for c in checkpoints}}
    for first, second in zip(sizes, sizes[1:], strict=False):
        proof = proofs.consistency(tenant_id=tenant.pk, first=first, second=second)
        assert (proof["firstRoot"], proof["secondRoot"]) == (roots[first], roots[second])
        assert merkle.verify_consistency(first, second, bytes.fromhex(roots[first]), bytes.fromhex(roots[second]),
                                         [bytes.fromhex(h) for h in proof["proof"]])
