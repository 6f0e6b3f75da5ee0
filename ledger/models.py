"""The provenance ledger (DESIGN §6).

Callers append :class:`IntakeEntry` rows in their own transaction; the sequencer moves them in
batches into :class:`LedgerEntry` (chained, numbered, immutable), stores payloads in the
content-addressed :class:`LedgerPayload`, advances :class:`TenantHead` (height, head hash and
Merkle frontier), stores the perfect Merkle subtrees proofs need (:class:`MerkleNode`) and a
signed :class:`Checkpoint`. Sealed ranges go to write-once storage as :class:`ArchiveSegment`.

On PostgreSQL the database itself refuses a gap, a fork or an edit: unique
``(tenant, sequence_number)``, a statement trigger that checks every new entry links to entry
``seq - 1`` (by number and by hash), and triggers that make every ledger table append-only —
UPDATE, DELETE and TRUNCATE — except for what the sequencer and archiver must do: a head moves
forward to the chain's last entry, archived payloads are pruned, intake rows are moved
(migrations 0003 and 0004).
"""

from __future__ import annotations

import uuid

from django.db import models


class Statement(models.Model):
    """What an entry states — who did what to which resource, when, in which tenant — the
    same from intake to the chained entry, and hashed as given (``hashing.entry_hash``)."""

    # No database FK: on intake its check would take a KEY SHARE lock on the tenant row in every
    # appending transaction, so all writers of a tenant would meet on that one row (MultiXact
    # churn), the hot spot this design removes; on entries a per-row RI trigger would cost ~40%
    # of a batch insert, and the intake row already proved the tenant exists. Tenants come from
    # the service layer; Django still PROTECTs tenant deletes. No index of its own either: each
    # table's (tenant, …) index serves every tenant lookup.
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False,
                               db_constraint=False)
    timestamp = models.DateTimeField()
    action_type = models.CharField(max_length=100)
    resource_type = models.CharField(max_length=100)
    resource_id = models.CharField(max_length=200)
    actor_id = models.CharField(max_length=200)
    actor_type = models.CharField(max_length=16)

    class Meta:
        abstract = True


class IntakeEntry(Statement):
    """An appended, not yet sequenced ledger entry. Written in the caller's transaction with
    no lock and no chain work; the sequencer turns these into chained entries in batches.

    Everything that does not depend on the entry's position is computed here, by the caller,
    in parallel with every other caller: the canonical payload and its hash, and the entry's
    canonical JSON with two holes for ``previousHash`` and ``sequenceNumber``
    (``hashing.entry_template``). The sequencer, the only serial part, then only fills the
    holes and hashes."""

    pk_id = models.BigAutoField(primary_key=True)
    # Unique per tenant, like the entries' ids: another tenant's id is no business of this one.
    id = models.UUIDField(default=uuid.uuid4)
    payload_hash = models.CharField(max_length=64, default="")
    payload_jcs = models.TextField(default="")
    metadata = models.JSONField(default=dict)
    entry_template = models.TextField(default="")
    # Only ids chosen by a client can collide with an already sequenced entry (a retried POST
    # racing the sequencer); the sequencer checks just those.
    client_id = models.BooleanField(default=False)
    # Not a column: canonical_json(metadata), set by ledger.services.intake_prepare for the
    # insert (jsonb from that text), so a batch does not encode every metadata twice.
    metadata_jcs: bytes
    id_text: str  # Not a column either: str(id), written once for the template and the insert.

    class Meta:
        indexes = [models.Index(fields=["tenant", "pk_id"], name="ledger_intake_tenant_idx")]
        constraints = [models.UniqueConstraint(fields=["tenant", "id"], name="ledger_intake_tenant_id_uniq")]
        verbose_name = "intake entry"
        verbose_name_plural = "intake (unsequenced)"

    def __str__(self) -> str:
        return f"{self.id} {self.action_type} (pending)"


class LedgerEntry(Statement):
    """A sequenced, chained, immutable entry. ``current_hash`` is
    ``hex(SHA-256(JCS({id, tenantId, sequenceNumber, previousHash, timestamp, actionType,
    resourceType, resourceId, actorId, actorType, payloadHash, metadata})))``."""

    pk_id = models.BigAutoField(primary_key=True)
    # Unique per tenant: an id one tenant uses can be used by another, so appending one reveals
    # nothing about any other tenant's ledger.
    id = models.UUIDField()
    sequence_number = models.BigIntegerField()
    previous_hash = models.CharField(max_length=64)
    current_hash = models.CharField(max_length=64)
    payload_hash = models.CharField(max_length=64)
    metadata = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sequence_number"], name="ledger_entry_tenant_seq_uniq"),
            models.UniqueConstraint(fields=["tenant", "id"], name="ledger_entry_tenant_id_uniq"),
            models.CheckConstraint(condition=models.Q(sequence_number__gte=1), name="ledger_entry_seq_positive"),
        ]
        verbose_name = "ledger entry"
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"#{self.sequence_number} {self.action_type} {self.resource_type}:{self.resource_id}"


class LedgerPayload(models.Model):
    """Content-addressed payload store: the canonical JSON (RFC 8785) of a payload, keyed by
    ``(tenant, SHA-256)``, written with ``ON CONFLICT DO NOTHING`` so a repeated payload is
    stored once. Entries only carry the hash, so payloads can be archived and pruned from here
    without touching the chain."""

    pk = models.CompositePrimaryKey("tenant", "payload_hash")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False,
                               db_constraint=False)
    payload_hash = models.CharField(max_length=64)
    body = models.TextField()

    def __str__(self) -> str:
        return self.payload_hash


class TenantHead(models.Model):
    """One row per tenant: chain height, head hash and the compact Merkle frontier. The
    sequencer locks it for the length of a batch."""

    tenant = models.OneToOneField("tenancy.Tenant", on_delete=models.PROTECT, primary_key=True, related_name="+")
    sequence_number = models.BigIntegerField(default=0)
    head_hash = models.CharField(max_length=64)
    frontier = models.JSONField(default=list)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "tenant head"

    def __str__(self) -> str:
        return f"tenant {self.tenant_id} @ {self.sequence_number}"


class MerkleNode(models.Model):
    """Root of the perfect subtree ``[index * 2**level, (index + 1) * 2**level)`` for the levels
    at or above ``MAESTRO_LEDGER_NODE_MIN_LEVEL``, so a proof reads O(log n) rows plus a few
    hundred leaves instead of the whole log. Derived data: ``ledger_verify`` recomputes it."""

    pk_id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False)
    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "level", "index"], name="ledger_node_uniq"),
        ]


class Checkpoint(models.Model):
    """A signed tree head: ``signature = base64(Ed25519(JCS({tenantId, treeSize, rootHash,
    timestamp})))``, written after every batch."""

    pk_id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False)
    tree_size = models.BigIntegerField()
    root_hash = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    signature = models.CharField(max_length=100)
    key_id = models.CharField(max_length=16)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "tree_size"], name="ledger_checkpoint_uniq"),
        ]

    def __str__(self) -> str:
        return f"tenant {self.tenant_id} size {self.tree_size}"


class ArchiveSegment(models.Model):
    """A sealed range ``[first_sequence, last_sequence]`` written once to the archive, with the
    checkpoint at ``last_sequence`` that covers it and the Merkle frontier at its end (the
    next segment starts from it, so each segment verifies against its checkpoint alone)."""

    pk_id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False)
    first_sequence = models.BigIntegerField()
    last_sequence = models.BigIntegerField()
    key = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    url = models.CharField(max_length=500)
    last_hash = models.CharField(max_length=64)
    end_frontier = models.JSONField(default=list)
    archived_at = models.DateTimeField()
    payloads_pruned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "first_sequence"], name="ledger_segment_uniq"),
        ]

    def __str__(self) -> str:
        return self.key


class CheckpointArchiveMark(models.Model):
    """How far the tenant's signed checkpoints are in the WORM archive: every checkpoint up to
    ``tree_size`` is there. Bookkeeping only — ``ledger_verify`` reads the archive itself — so a
    publication knows where to resume after a failed upload."""

    tenant = models.OneToOneField("tenancy.Tenant", on_delete=models.PROTECT, primary_key=True, related_name="+")
    tree_size = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"tenant {self.tenant_id} archived through {self.tree_size}"


class VerificationRun(models.Model):
    """The outcome of ``ledger_verify`` / ``ledger_verify_archive``, kept for operators and the
    ``maestro_ledger_last_verification_valid`` metric."""

    class Kind(models.TextChoices):
        CHAIN = "chain"
        ARCHIVE = "archive"

    pk_id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    finished_at = models.DateTimeField()
    valid = models.BooleanField()
    total_entries = models.BigIntegerField()
    report = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "kind", "-finished_at"], name="ledger_verif_idx")]
