"""The batched sequencer (DESIGN §6): the only serial part of the ledger.

One batch is one transaction. Under a per-tenant lock (PostgreSQL ``pg_try_advisory_xact_lock``
plus ``FOR UPDATE`` on the head row; SQLite serialises writers itself) it reads the canonical
templates of up to N intake rows in order, numbers them ``head+1…``, fills
``previousHash``/``sequenceNumber`` into each template and hashes, then in one statement moves
the rows from intake to the entry table and their payloads to the content-addressed store,
advances the Merkle frontier and head, stores the completed Merkle nodes and a signed
checkpoint, and commits. A worker killed anywhere before the commit leaves nothing behind: the
intake rows come back with the rollback.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ledger import metrics
from ledger.checkpoint_archive import checkpoint_publish_on_commit
from ledger.hashing import GENESIS_HASH, chain_templates, format_timestamp
from ledger.keys import sign_checkpoint
from ledger.merkle import Frontier, extend_collecting
from ledger.models import Checkpoint, IntakeEntry, LedgerEntry, LedgerPayload, MerkleNode, TenantHead
from ledger.representations import checkpoint_repr

log = logging.getLogger(__name__)

# The job that sequences one tenant's backlog (ledger/jobs.py), enqueued after every commit
# that appended to the intake.
SEQUENCE_JOB = "ledger.sequence_tenant"
# First key of the two-int advisory lock: "LEDG". The second is the tenant id.
LOCK_NAMESPACE = 0x4C454447

# Who puts a signed checkpoint on the tenant's event log: the write path registers itself at
# start-up (maestro.write_path.apps). Called inside the batch's transaction with the tenant id
# and the checkpoint as the API shows it.
CheckpointAnnouncer = Callable[[int, Mapping[str, Any]], None]
_announcer: CheckpointAnnouncer | None = None


def announce_checkpoints_to(announcer: CheckpointAnnouncer) -> None:
    global _announcer
    _announcer = announcer

ENTRY_COLUMNS = ("id", "tenant_id", "sequence_number", "previous_hash", "current_hash", "timestamp",
                 "action_type", "resource_type", "resource_id", "actor_id", "actor_type", "payload_hash",
                 "metadata")
_E = LedgerEntry._meta.db_table
_I = IntakeEntry._meta.db_table
_P = LedgerPayload._meta.db_table
_H = TenantHead._meta.db_table


@dataclass
class BatchResult:
    tenant_id: int
    busy: bool = False
    count: int = 0
    first_sequence: int = 0
    last_sequence: int = 0
    root_hash: str = ""
    duplicates: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def sequence_tenant(*, tenant_id: int, batch_size: int | None = None, max_batches: int | None = None,
                    linger: float | None = None) -> int:
    """Sequence the tenant's backlog; returns how many entries this call sequenced.

    Returns at once when another process holds the tenant: that holder re-checks the backlog
    after releasing the lock, so rows committed while it worked are never stranded.

    After a batch that was not full it lingers (``MAESTRO_LEDGER_LINGER_SECONDS``) before
    looking again: under a steady trickle of appends that turns hundreds of two-entry batches,
    each paying for a checkpoint and a commit, into a few dozen larger ones."""
    size = batch_size or settings.MAESTRO_LEDGER_BATCH_SIZE
    pause = settings.MAESTRO_LEDGER_LINGER_SECONDS if linger is None else linger
    total = batches = 0
    while max_batches is None or batches < max_batches:
        result = sequence_batch(tenant_id=tenant_id, batch_size=size)
        batches += 1
        if result.busy:
            break
        total += result.count
        if result.count + result.duplicates < size:
            if pause and result.count and (max_batches is None or batches < max_batches):
                time.sleep(pause)
            if not backlog_exists(tenant_id=tenant_id):
                break
    return total


def backlog_exists(*, tenant_id: int) -> bool:
    return IntakeEntry.objects.filter(tenant_id=tenant_id).exists()


def sequence_batch(*, tenant_id: int, batch_size: int) -> BatchResult:
    started = time.perf_counter()
    with transaction.atomic():
        result = _batch(tenant_id, batch_size)
    if result.count:
        # what the clock did not see: the checkpoint event and the commit itself
        result.timings["commit"] = time.perf_counter() - started - sum(result.timings.values())
        metrics.observe_batch(result.count, time.perf_counter() - started)
        log.info("ledger batch sequenced", extra={"event": "ledger.batch", "tenant_id": tenant_id,
                                                  "count": result.count, "last_sequence": result.last_sequence})
    return result


def _batch(tenant_id: int, batch_size: int) -> BatchResult:
    pg = connection.vendor == "postgresql"
    result = BatchResult(tenant_id=tenant_id)
    clock = _Clock(result.timings)
    with connection.cursor() as cur:
        if pg:
            # work_mem: the move statement's CTE holds a whole batch; keep it out of temp files.
            cur.execute("SELECT pg_try_advisory_xact_lock(%s, %s), set_config('work_mem', '64MB', true)",
                        [LOCK_NAMESPACE, tenant_id])
            if not cur.fetchone()[0]:
                result.busy = True
                return result
        head_seq, head_hash, frontier = _lock_head(cur, tenant_id, pg)
        clock.lap("lock")
        rows = _claim(cur, tenant_id, batch_size, pg)
        clock.lap("take")
        rows, result.duplicates = _drop_already_sequenced(cur, tenant_id, rows, pg)
        if not rows:
            return result
        first = head_seq + 1
        hashes = chain_templates([r.template for r in rows], first, head_hash)
        clock.lap("hash")
        # Leaf hashes of our own freshly computed hex digests (entry_leaf_hash re-validates each).
        sha256, fromhex = hashlib.sha256, bytes.fromhex
        nodes = extend_collecting(frontier, [sha256(b"\x00" + fromhex(h)).digest() for h in hashes],
                                  settings.MAESTRO_LEDGER_NODE_MIN_LEVEL)
        clock.lap("merkle")
        _move(cur, tenant_id, rows, first, [head_hash, *hashes[:-1]], hashes, pg)
        clock.lap("write")
        last = first + len(rows) - 1
        root = frontier.root().hex()
        now = timezone.now()
        if nodes:
            MerkleNode.objects.bulk_create([MerkleNode(tenant_id=tenant_id, level=level, index=index, hash=h.hex())
                                            for level, index, h in nodes])
        cur.execute(f"UPDATE {_H} SET sequence_number = %s, head_hash = %s, frontier = %s, updated_at = %s "
                    "WHERE tenant_id = %s", [last, hashes[-1], json.dumps(frontier.to_list()), now, tenant_id])
        checkpoint = _checkpoint(tenant_id, last, root, now)
        clock.lap("head_checkpoint")
    if _announcer is not None:
        _announcer(tenant_id, checkpoint_repr(checkpoint))
    result.count, result.first_sequence, result.last_sequence, result.root_hash = len(rows), first, last, root
    return result


class _Clock:
    def __init__(self, into: dict[str, float]) -> None:
        self.into, self.t = into, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.into[name] = self.into.get(name, 0.0) + now - self.t
        self.t = now


def lock_tenant(tenant_id: int) -> None:
    """Wait for the tenant's sequencer lock until the end of the current transaction (pruning
    payloads must not race a batch that reuses one)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, tenant_id])


def _lock_head(cur: Any, tenant_id: int, pg: bool) -> tuple[int, str, Frontier]:
    lock = " FOR UPDATE" if pg else ""
    select = f"SELECT sequence_number, head_hash, frontier FROM {_H} WHERE tenant_id = %s{lock}"
    cur.execute(select, [tenant_id])
    row = cur.fetchone()
    if row is None:
        cur.execute(f"INSERT INTO {_H} (tenant_id, sequence_number, head_hash, frontier, updated_at) "
                    "VALUES (%s, 0, %s, %s, %s) ON CONFLICT (tenant_id) DO NOTHING",
                    [tenant_id, GENESIS_HASH, "[]", timezone.now()])
        cur.execute(select, [tenant_id])
        row = cur.fetchone()
    seq, head_hash, nodes = row
    if isinstance(nodes, str):
        nodes = json.loads(nodes)
    return seq, head_hash, Frontier.from_list(seq, nodes)


class _Row(NamedTuple):  # a tuple, not a dataclass: 10,000 of them per batch
    pk_id: int
    id: Any
    template: str
    client_id: bool
    # SQLite only: the rest of the intake row, already deleted (see _claim).
    values: tuple[Any, ...] = ()


_SQLITE_COLUMNS = ("timestamp", "action_type", "resource_type", "resource_id", "actor_id", "actor_type",
                   "payload_hash", "metadata", "payload_jcs")


def _claim(cur: Any, tenant_id: int, limit: int, pg: bool) -> list[_Row]:
    """The tenant's oldest ``limit`` intake rows, in intake order.

    PostgreSQL: only the canonical templates travel to Python; the rows move to the entry and
    payload tables server-side (:func:`_move`). SQLite: the rows are deleted and returned here.
    Either way exactly these rows, not "everything up to pk N": a lower pk may commit later."""
    if pg:
        cur.execute(f"SELECT pk_id, CASE WHEN client_id THEN id END, entry_template, client_id FROM {_I} "
                    "WHERE tenant_id = %s ORDER BY pk_id LIMIT %s", [tenant_id, limit])
        return [_Row(*r) for r in cur.fetchall()]
    cur.execute(
        f"DELETE FROM {_I} WHERE pk_id IN (SELECT pk_id FROM {_I} WHERE tenant_id = %s ORDER BY pk_id LIMIT %s) "
        f"RETURNING pk_id, id, entry_template, client_id, {', '.join(_SQLITE_COLUMNS)}", [tenant_id, limit])
    rows = [_Row(r[0], r[1], r[2], bool(r[3]), tuple(r[4:])) for r in cur.fetchall()]
    rows.sort(key=lambda r: r.pk_id)
    return rows


def _drop_already_sequenced(cur: Any, tenant_id: int, rows: list[_Row], pg: bool) -> tuple[list[_Row], int]:
    """A client may retry a POST with the same id while the sequencer moves its first copy;
    the retry then lands in intake again. Entry ids are idempotency keys: drop the copy."""
    client_ids = [_uuid(r.id) for r in rows if r.client_id]
    if not client_ids:
        return rows, 0
    existing = set(LedgerEntry.objects.filter(tenant_id=tenant_id, id__in=client_ids).values_list("id", flat=True))
    dropped = [r for r in rows if r.client_id and _uuid(r.id) in existing]
    if not dropped:
        return rows, 0
    if pg:
        cur.execute(f"DELETE FROM {_I} WHERE pk_id = ANY(%s)", [[r.pk_id for r in dropped]])
    gone = {r.pk_id for r in dropped}
    return [r for r in rows if r.pk_id not in gone], len(dropped)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


# One statement: delete the claimed intake rows, insert them as entries with their numbers and
# hashes, and add their payloads to the content-addressed store. Nothing but the intake keys
# and the hashes crosses the wire, as three comma-joined strings (joining is C-fast; psycopg
# dumps Python lists element by element); the returned count guards against a vanished row.
_MOVE_SQL = f"""
WITH batch AS (
    SELECT b.pk_id, %s::bigint + b.n - 1 AS seq, b.prev, b.cur
    FROM unnest(string_to_array(%s, ',')::bigint[], string_to_array(%s, ','), string_to_array(%s, ','))
         WITH ORDINALITY AS b(pk_id, prev, cur, n)
), moved AS (
    DELETE FROM {_I} i USING batch b WHERE i.pk_id = b.pk_id
    RETURNING i.id, i.tenant_id, b.seq, b.prev, b.cur, i.timestamp, i.action_type, i.resource_type,
              i.resource_id, i.actor_id, i.actor_type, i.payload_hash, i.metadata, i.payload_jcs
), entries AS (
    INSERT INTO {_E} ({", ".join(ENTRY_COLUMNS)})
    SELECT id, tenant_id, seq, prev, cur, timestamp, action_type, resource_type, resource_id, actor_id,
           actor_type, payload_hash, metadata FROM moved
), payloads AS (
    INSERT INTO {_P} (tenant_id, payload_hash, body)
    SELECT tenant_id, payload_hash, payload_jcs FROM moved
    ON CONFLICT DO NOTHING
)
SELECT count(*) FROM moved
"""


def _move(cur: Any, tenant_id: int, rows: list[_Row], first: int, prevs: list[str], hashes: list[str],
          pg: bool) -> None:
    if pg:
        cur.execute(_MOVE_SQL, [first, ",".join([str(r.pk_id) for r in rows]), ",".join(prevs), ",".join(hashes)])
        moved = cur.fetchone()[0]
        if moved != len(rows):
            raise RuntimeError(f"claimed {len(rows)} intake rows but moved {moved}; batch rolled back")
        return
    marks = ", ".join(["%s"] * len(ENTRY_COLUMNS))
    cur.executemany(f"INSERT INTO {_E} ({', '.join(ENTRY_COLUMNS)}) VALUES ({marks})", [
        (r.id, tenant_id, first + i, prev, current, *r.values[:8])
        for i, (r, prev, current) in enumerate(zip(rows, prevs, hashes, strict=True))
    ])
    cur.executemany(f"INSERT INTO {_P} (tenant_id, payload_hash, body) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    [(tenant_id, r.values[6], r.values[8]) for r in rows])


def _checkpoint(tenant_id: int, tree_size: int, root: str, now: Any) -> Checkpoint:
    stamp = format_timestamp(now)
    signature, kid = sign_checkpoint(tenant_id=tenant_id, tree_size=tree_size, root_hash=root, timestamp=stamp)
    checkpoint = Checkpoint.objects.create(tenant_id=tenant_id, tree_size=tree_size, root_hash=root, timestamp=now,
                                           signature=signature, key_id=kid)
    # Out of the database the moment the batch commits: to the WORM archive.
    checkpoint_publish_on_commit(tenant_id=tenant_id)
    return checkpoint


def sweep(*, batch_size: int | None = None, max_batches_per_tenant: int | None = None) -> dict[int, int]:
    """Sequence every tenant with a backlog (the periodic safety net behind the on-commit poke)."""
    tenant_ids = sorted(set(IntakeEntry.objects.values_list("tenant_id", flat=True).distinct()))
    return {tid: sequence_tenant(tenant_id=tid, batch_size=batch_size, max_batches=max_batches_per_tenant)
            for tid in tenant_ids}
