"""API shapes of the ledger, declared as the TypedDicts their functions return (the OpenAPI
document is derived from them; no ``from __future__ import annotations``, see
orchestration/work/representations.py). ``entry_repr`` minus ``currentHash`` and ``payload`` is
exactly the object whose JCS hashes to ``currentHash``, so anyone can verify an entry from the
API alone."""

import json
from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict, cast

from ledger.hashing import canonical_json, format_timestamp
from ledger.models import Checkpoint, IntakeEntry, LedgerEntry
from maestro.core.wire import IsoTime

MISSING = object()


class HashedFields(TypedDict):
    id: str
    tenantId: int
    sequenceNumber: int
    previousHash: str
    timestamp: IsoTime
    actionType: str
    resourceType: str
    resourceId: str
    actorId: str
    actorType: str
    payloadHash: str
    metadata: dict[str, Any]


class EntryOut(HashedFields):
    currentHash: str
    # The canonical payload; null when it is in neither the hot store nor the archive.
    payload: NotRequired[Any]


class ReceiptOut(TypedDict):
    id: str
    tenantId: int
    status: Literal["pending", "sequenced"]
    sequenceNumber: NotRequired[int]
    currentHash: NotRequired[str]


class CheckpointOut(TypedDict):
    tenantId: int
    treeSize: int
    rootHash: str
    timestamp: IsoTime
    signature: str
    keyId: str


def hashed_fields(entry: LedgerEntry) -> HashedFields:
    return {
        "id": str(entry.id),
        "tenantId": entry.tenant_id,
        "sequenceNumber": entry.sequence_number,
        "previousHash": entry.previous_hash,
        "timestamp": format_timestamp(entry.timestamp),
        "actionType": entry.action_type,
        "resourceType": entry.resource_type,
        "resourceId": entry.resource_id,
        "actorId": entry.actor_id,
        "actorType": entry.actor_type,
        "payloadHash": entry.payload_hash,
        "metadata": entry.metadata,
    }


def entry_repr(entry: LedgerEntry, payload_jcs: str | None | object = MISSING) -> EntryOut:
    """``payload_jcs``: the stored canonical payload; ``None`` when it is gone from both the hot
    store and the archive (``ledger_verify`` reports that); omitted: no payload key."""
    body = cast(EntryOut, {**hashed_fields(entry), "currentHash": entry.current_hash})  # payload: below
    if payload_jcs is not MISSING:
        body["payload"] = json.loads(payload_jcs) if isinstance(payload_jcs, str) else None
    return body


def receipt_repr(item: IntakeEntry | LedgerEntry) -> ReceiptOut:
    if isinstance(item, LedgerEntry):
        return {"id": str(item.id), "tenantId": item.tenant_id, "status": "sequenced",
                "sequenceNumber": item.sequence_number, "currentHash": item.current_hash}
    return {"id": str(item.id), "tenantId": item.tenant_id, "status": "pending"}


def checkpoint_repr(checkpoint: Checkpoint) -> CheckpointOut:
    return {
        "tenantId": checkpoint.tenant_id,
        "treeSize": checkpoint.tree_size,
        "rootHash": checkpoint.root_hash,
        "timestamp": format_timestamp(checkpoint.timestamp),
        "signature": checkpoint.signature,
        "keyId": checkpoint.key_id,
    }


class InclusionProofOut(TypedDict):
    leafIndex: int
    treeSize: int
    rootHash: str
    auditPath: list[str]
    leafHash: str
    currentHash: str
    checkpoint: CheckpointOut | None


class ConsistencyProofOut(TypedDict):
    first: int
    second: int
    firstRoot: str
    secondRoot: str
    proof: list[str]
    checkpoints: dict[str, CheckpointOut]


class PublicKeyOut(TypedDict):
    algorithm: str
    publicKey: str


class VerifyErrorOut(TypedDict):
    sequenceNumber: int | None
    error: str
    severity: str


class VerifyReportOut(TypedDict):
    valid: bool
    tenantId: int
    totalEntries: int
    brokenChains: int
    invalidHashes: int
    missingEntries: int
    lastVerifiedSequence: int
    checkpointsVerified: int
    rootHash: str | None
    verificationTime: float
    verifiedAt: IsoTime
    errorCount: int
    errors: list[VerifyErrorOut]


class SegmentOut(TypedDict):
    firstSequence: int
    lastSequence: int
    key: str
    sha256: str
    sizeBytes: int
    url: str
    archivedAt: IsoTime
    payloadsPruned: bool


class ArchivedSegmentOut(TypedDict):
    firstSequence: int
    lastSequence: int
    key: str
    sha256: str


class ArchivedOut(TypedDict):
    archived: list[ArchivedSegmentOut]


CSV_COLUMNS = ("sequenceNumber", "id", "tenantId", "timestamp", "actionType", "resourceType", "resourceId",
               "actorId", "actorType", "previousHash", "currentHash", "payloadHash", "metadata", "payload")


def csv_row(body: Mapping[str, Any]) -> list[Any]:
    """One export row; JSON columns hold canonical JSON, so they re-hash byte for byte."""
    row = []
    for column in CSV_COLUMNS:
        value = body.get(column)
        if column in ("metadata", "payload"):
            value = "" if value is None and column == "payload" else canonical_json(value).decode()
        row.append(value)
    return row
