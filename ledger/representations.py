"""API shapes of the ledger. ``entry_repr`` minus ``currentHash`` and ``payload`` is exactly the
object whose JCS hashes to ``currentHash``, so anyone can verify an entry from the API alone."""

from __future__ import annotations

import json
from typing import Any

from ledger.hashing import canonical_json, format_timestamp
from ledger.models import Checkpoint, IntakeEntry, LedgerEntry

MISSING = object()


def hashed_fields(entry: LedgerEntry) -> dict[str, Any]:
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


def entry_repr(entry: LedgerEntry, payload_jcs: str | None | object = MISSING) -> dict[str, Any]:
    """``payload_jcs``: the stored canonical payload; ``None`` when it is gone from both the hot
    store and the archive (``ledger_verify`` reports that); omitted: no payload key."""
    body = hashed_fields(entry)
    body["currentHash"] = entry.current_hash
    if payload_jcs is not MISSING:
        body["payload"] = json.loads(payload_jcs) if isinstance(payload_jcs, str) else None
    return body


def receipt_repr(item: IntakeEntry | LedgerEntry) -> dict[str, Any]:
    if isinstance(item, LedgerEntry):
        return {"id": str(item.id), "tenantId": item.tenant_id, "status": "sequenced",
                "sequenceNumber": item.sequence_number, "currentHash": item.current_hash}
    return {"id": str(item.id), "tenantId": item.tenant_id, "status": "pending"}


def checkpoint_repr(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "tenantId": checkpoint.tenant_id,
        "treeSize": checkpoint.tree_size,
        "rootHash": checkpoint.root_hash,
        "timestamp": format_timestamp(checkpoint.timestamp),
        "signature": checkpoint.signature,
        "keyId": checkpoint.key_id,
    }


CSV_COLUMNS = ("sequenceNumber", "id", "tenantId", "timestamp", "actionType", "resourceType", "resourceId",
               "actorId", "actorType", "previousHash", "currentHash", "payloadHash", "metadata", "payload")


def csv_row(body: dict[str, Any]) -> list[Any]:
    """One export row; JSON columns hold canonical JSON, so they re-hash byte for byte."""
    row = []
    for column in CSV_COLUMNS:
        value = body.get(column)
        if column in ("metadata", "payload"):
            value = "" if value is None and column == "payload" else canonical_json(value).decode()
        row.append(value)
    return row
