from __future__ import annotations

import base64
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import merkle
from ledger.hashing import GENESIS_HASH, canonical_json, entry_hash, format_timestamp, payload_hash
from ledger.keys import public_key_b64
from ledger.models import Checkpoint, IntakeEntry, LedgerEntry, LedgerPayload, MerkleNode, TenantHead
from ledger.sequencer import LOCK_NAMESPACE, sequence_batch, sequence_tenant, sweep
from realtime.models import Event
from tests.factories import SYSTEM
from tests.ledger.conftest import append, other_session, postgres_only, sequence

pytestmark = pytest.mark.django_db


def _chain(tenant):
    return list(LedgerEntry.objects.filter(tenant_id=tenant.pk).order_by("sequence_number"))


def _recompute(entry: LedgerEntry) -> str:
    return entry_hash(id=entry.id, tenant_id=entry.tenant_id, sequence_number=entry.sequence_number,
                      previous_hash=entry.previous_hash, timestamp=entry.timestamp, action_type=entry.action_type,
                      resource_type=entry.resource_type, resource_id=entry.resource_id, actor_id=entry.actor_id,
                      actor_type=entry.actor_type, payload_hash=entry.payload_hash, metadata=entry.metadata)


def test_batches_are_gapless_per_tenant_and_every_hash_recomputes(tenant, other_tenant):
    # given: interleaved appends for two tenants
    mine = append(tenant, 7)
    theirs = append(other_tenant, 3)
    mine += append(tenant, 4)

    # when: sequenced in batches of 3
    done = {t.pk: sequence(t, batch_size=3) for t in (tenant, other_tenant)}

    # then
    assert done == {tenant.pk: 11, other_tenant.pk: 3}
    assert IntakeEntry.objects.count() == 0
    for t, appended in ((tenant, mine), (other_tenant, theirs)):
        chain = _chain(t)
        assert [e.sequence_number for e in chain] == list(range(1, len(appended) + 1))
        assert [e.id for e in chain] == [row.id for row in appended]  # intake order
        assert [e.previous_hash for e in chain] == [GENESIS_HASH] + [e.current_hash for e in chain[:-1]]
        assert [_recompute(e) for e in chain] == [e.current_hash for e in chain]
        assert [e.payload_hash for e in chain] == [row.payload_hash for row in appended]
        head = TenantHead.objects.get(tenant_id=t.pk)
        assert (head.sequence_number, head.head_hash) == (len(chain), chain[-1].current_hash)


@pytest.mark.parametrize("n", [1, 3])
def test_appends_keep_exactly_what_was_sent_whatever_characters_they_hold(tenant, n):
    # given: one entry (an INSERT) or a batch (one COPY on PostgreSQL) whose text holds COPY's own
    # separators and escapes
    from ledger.services import entries_append

    odd = "tab\there\nline\r\\N back\\slash \\t ü ✓"
    items = [{"action_type": f"a.{i}{odd}", "resource_type": odd, "resource_id": odd, "actor_id": odd,
              "actor_type": "api", "payload": {"s": odd, "i": i}, "metadata": {"m": odd, "q": '"\\'}}
             for i in range(n)]

    # when
    rows = [row for row, created in entries_append(tenant_id=tenant.pk, items=items, submitted_by=SYSTEM) if created]
    stored = list(IntakeEntry.objects.filter(id__in=[r.id for r in rows]).order_by("pk_id"))
    sequence(tenant)

    # then: the intake rows hold what was prepared, and the entries what was sent, every hash recomputing
    assert [(x.id, x.action_type, x.resource_id, x.actor_id, x.metadata, x.payload_jcs, x.entry_template)
            for x in stored] == [(r.id, r.action_type, r.resource_id, r.actor_id, r.metadata, r.payload_jcs,
                                  r.entry_template) for r in rows]
    entries = list(LedgerEntry.objects.filter(id__in=[r.id for r in rows]).order_by("sequence_number"))
    assert [(e.action_type, e.resource_type, e.resource_id, e.actor_id, {k: v for k, v in e.metadata.items()
                                                                          if k != "_maestro"}) for e in entries] == \
        [(f"a.{i}{odd}", odd, odd, odd, {"m": odd, "q": '"\\'}) for i in range(n)]
    assert [_recompute(e) for e in entries] == [e.current_hash for e in entries]
    assert [LedgerPayload.objects.get(tenant_id=tenant.pk, payload_hash=e.payload_hash).body for e in entries] == \
        [canonical_json({"s": odd, "i": i}).decode() for i in range(n)]


def test_entries_keep_exactly_what_was_appended(tenant):
    # given
    row = append(tenant, 1, resource_id="proj_1", actor_id="olivia", actor_type="api",
                 payload={"b": [1, 2.5, None], "a": "ü"}, metadata={"requestId": "r-1", "auditId": 7})[0]

    # when
    sequence(tenant)

    # then
    entry = LedgerEntry.objects.get(id=row.id)
    assert (entry.tenant_id, entry.sequence_number, entry.action_type, entry.resource_type, entry.resource_id,
            entry.actor_id, entry.actor_type, entry.metadata) == \
        (tenant.pk, 1, "task.create", "task", "proj_1", "olivia", "api", {"requestId": "r-1", "auditId": 7})
    assert format_timestamp(entry.timestamp) == format_timestamp(row.timestamp)
    assert entry.payload_hash == payload_hash({"a": "ü", "b": [1, 2.5, None]})
    assert LedgerPayload.objects.get(tenant_id=tenant.pk, payload_hash=entry.payload_hash).body == \
        canonical_json({"a": "ü", "b": [1, 2.5, None]}).decode()


def test_every_batch_writes_a_signed_checkpoint_whose_root_is_the_merkle_root(tenant):
    # given
    append(tenant, 10)

    # when
    sequence(tenant, batch_size=4)

    # then: one checkpoint per batch, each the RFC 9162 root of the log at that size
    leaves = [bytes.fromhex(e.current_hash) for e in _chain(tenant)]
    checkpoints = list(Checkpoint.objects.filter(tenant_id=tenant.pk).order_by("tree_size"))
    assert [c.tree_size for c in checkpoints] == [4, 8, 10]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64()))
    for cp in checkpoints:
        assert cp.root_hash == merkle.root(leaves[: cp.tree_size]).hex()
        message = canonical_json({"tenantId": tenant.pk, "treeSize": cp.tree_size, "rootHash": cp.root_hash,
                                  "timestamp": format_timestamp(cp.timestamp)})
        public.verify(base64.b64decode(cp.signature), message)  # raises if invalid
    head = TenantHead.objects.get(tenant_id=tenant.pk)
    frontier = merkle.Frontier.from_list(head.sequence_number, head.frontier)
    assert frontier.root() == merkle.root(leaves)


def test_each_batch_announces_its_checkpoint_on_the_event_stream(tenant):
    # given
    append(tenant, 5)
    before = Event.objects.filter(tenant=tenant, type="ledger:checkpoint").count()

    # when
    sequence(tenant, batch_size=2)

    # then
    events = list(Event.objects.filter(tenant=tenant, type="ledger:checkpoint").order_by("seq"))[before:]
    assert [(e.data["treeSize"], e.data["tenantId"]) for e in events] == [(2, tenant.pk), (4, tenant.pk),
                                                                          (5, tenant.pk)]


def test_stored_merkle_nodes_are_the_perfect_subtree_roots(tenant, settings):
    # given: nodes kept from 4 leaves up
    settings.MAESTRO_LEDGER_NODE_MIN_LEVEL = 2
    append(tenant, 19)

    # when
    sequence(tenant, batch_size=5)

    # then
    leaves = merkle.leaf_hashes([bytes.fromhex(e.current_hash) for e in _chain(tenant)])
    stored = {(n.level, n.index): n.hash for n in MerkleNode.objects.filter(tenant_id=tenant.pk)}
    expected = {(level, i): merkle.root_from_hashes(leaves[i << level:(i + 1) << level]).hex()
                for level in range(2, 5) for i in range(19 >> level)}
    assert stored == expected


def test_an_empty_backlog_sequences_nothing(tenant):
    # when
    result = sequence_batch(tenant_id=tenant.pk, batch_size=10)

    # then
    assert (result.busy, result.count) == (False, 0)
    assert LedgerEntry.objects.count() == 0
    assert Checkpoint.objects.count() == 0


def test_a_retried_client_id_that_is_already_sequenced_is_dropped_not_doubled(tenant):
    # given: the first copy is sequenced, then the same id slips into intake again
    from ledger.services import intake_add

    first = intake_add(tenant_id=tenant.pk, action_type="deploy", resource_type="service", resource_id="api",
                       actor_id="ci", actor_type="job", payload={"v": 1}, metadata={}, entry_id=uuid.uuid4())
    sequence(tenant)
    IntakeEntry.objects.bulk_create([IntakeEntry(**{f.attname: getattr(first, f.attname)
                                                   for f in IntakeEntry._meta.concrete_fields if f.name != "pk_id"})])
    append(tenant, 1)

    # when
    sequence(tenant)

    # then
    assert [e.sequence_number for e in _chain(tenant)] == [1, 2]
    assert LedgerEntry.objects.filter(id=first.id).count() == 1
    assert IntakeEntry.objects.count() == 0


def test_sweep_sequences_every_tenant_with_a_backlog(tenant, other_tenant):
    # given
    append(tenant, 2)
    append(other_tenant, 3)

    # when
    done = sweep(batch_size=2)

    # then
    assert done == {tenant.pk: 2, other_tenant.pk: 3}
    assert IntakeEntry.objects.count() == 0


@postgres_only
def test_a_tenant_held_by_another_sequencer_is_skipped_not_waited_for(tenant):
    # given: another session holds the tenant's sequencer lock
    append(tenant, 3)
    with other_session() as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, tenant.pk])

        # when
        result = sequence_batch(tenant_id=tenant.pk, batch_size=10)
        count = sequence_tenant(tenant_id=tenant.pk)

    # then
    assert (result.busy, result.count, count) == (True, 0, 0)
    assert IntakeEntry.objects.filter(tenant=tenant).count() == 3
    assert LedgerEntry.objects.count() == 0
