"""Writes to the ledger: intake (the caller's side) and waiting for the sequencer.

``intake_add`` is what :func:`maestro.write_path.record` calls for every mutation and denial;
:func:`entries_append` is the API's append (validation of a whole batch first, idempotency by
entry id). Both only insert intake rows; chaining happens later in :mod:`ledger.sequencer`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from datetime import datetime
from operator import itemgetter
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ledger.hashing import ACTOR_TYPES, LedgerHashError, canonical_json, entry_template
from ledger.models import IntakeEntry, LedgerEntry
from ledger.sequencer import sequence_tenant, sequencer_wake_on_commit
from maestro.core.actors import Actor
from maestro.core.context import current_request_id
from maestro.core.exceptions import ValidationFailed
from maestro.core.instances import instance

log = logging.getLogger(__name__)

# uuid5 namespace for Idempotency-Key → entry id (per tenant), so a repeated key is a repeated id.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f0c1b9e-3d8a-5e51-9a8e-6c2b1f4d7a10")
# First key of the two-int advisory lock on a client-chosen entry id: "LCID".
CLIENT_ID_LOCK_NAMESPACE = 0x4C434944
# The one key of an API-appended entry's metadata that only the server writes (entries_append):
# its own facts about the submission go under it, so every key a client sends — the old ledger's
# callers send their own requestId, traceId, correlationId — is kept exactly as sent.
SERVER_METADATA_KEY = "_maestro"
_LIMITS = {"action_type": 100, "resource_type": 100, "resource_id": 200, "actor_id": 200}
_API_NAMES = {"action_type": "actionType", "resource_type": "resourceType", "resource_id": "resourceId",
              "actor_id": "actorId", "actor_type": "actorType", "payload": "payload", "metadata": "metadata",
              "id": "id"}


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7) for server-assigned entry ids: consecutive
    entries land next to each other in the id index instead of at random pages."""
    return uuid7s(1)[0]


def uuid7s(n: int) -> list[uuid.UUID]:
    """``n`` of :func:`uuid7`, drawing the randomness of all of them at once."""
    ms = time.time_ns() // 1_000_000
    head = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | 0b10 << 62
    rand = os.urandom(10 * n)
    ids = []
    for i in range(0, 10 * n, 10):
        bits = int.from_bytes(rand[i:i + 10], "big")
        ids.append(_uuid(head | (bits & 0xFFF) << 64 | (bits >> 12) & (2**62 - 1)))
    return ids


_UNKNOWN_SAFETY = uuid.SafeUUID.unknown  # an Enum member's class attribute is a property call


def _uuid(value: int) -> uuid.UUID:
    """``uuid.UUID(int=value)`` for a value known to fit 128 bits, without the constructor's
    argument parsing (a third of a batch's id draws)."""
    made = object.__new__(uuid.UUID)
    object.__setattr__(made, "int", value)
    object.__setattr__(made, "is_safe", _UNKNOWN_SAFETY)
    return made


def _invalid(field: str, message: str) -> ValidationFailed:
    name = _API_NAMES.get(field, field)
    return ValidationFailed(f"{name}: {message}", details={"field": name})


def intake_prepare(*, tenant_id: int, action_type: str, resource_type: str, resource_id: Any, actor_id: Any,
                   actor_type: str, payload: Any, metadata: Any, entry_id: uuid.UUID | None = None,
                   timestamp: datetime | None = None, client_id: bool = False,
                   limits: tuple[int, int] | None = None) -> IntakeEntry:
    """Validate and canonicalise one entry (unsaved). Raises ValidationFailed naming the field.

    Ids are stored as text: an int resource id is hashed as the string the API returns.
    ``limits``: :func:`payload_limits`, read once by a caller preparing many entries."""
    values = {"action_type": action_type, "resource_type": resource_type,
              "resource_id": "" if resource_id is None else str(resource_id),
              "actor_id": "" if actor_id is None else str(actor_id)}
    for field, value in values.items():
        if not isinstance(value, str):
            raise _invalid(field, "must be a string")
        if len(value) > _LIMITS[field]:
            raise _invalid(field, f"must be at most {_LIMITS[field]} characters")
        if "\x00" in value:
            raise _invalid(field, "must not contain NUL characters")
    for field in ("action_type", "resource_type"):
        if not values[field]:
            raise _invalid(field, "must not be empty")
    if actor_type not in ACTOR_TYPES:
        raise ValidationFailed(f"actorType: unknown actor type {actor_type!r}",
                               details={"field": "actorType", "allowed": sorted(ACTOR_TYPES)})
    if not isinstance(payload, dict):
        raise _invalid("payload", "must be a JSON object")
    if not isinstance(metadata, dict):
        raise _invalid("metadata", "must be a JSON object")
    payload_limit, metadata_limit = limits or payload_limits()
    try:
        payload_jcs = canonical_json(payload)
    except LedgerHashError as exc:
        raise _invalid("payload", f"is not representable as canonical JSON ({exc})") from None
    if len(payload_jcs) > payload_limit:
        raise ValidationFailed(f"payload: {len(payload_jcs)} bytes exceeds the limit of {payload_limit}",
                               details={"field": "payload", "limit": payload_limit})
    try:
        metadata_jcs = canonical_json(metadata)
    except LedgerHashError as exc:
        raise _invalid("metadata", f"is not representable as canonical JSON ({exc})") from None
    if len(metadata_jcs) > metadata_limit:
        raise ValidationFailed(f"metadata: exceeds the limit of {metadata_limit} bytes",
                               details={"field": "metadata", "limit": metadata_limit})
    if b"\\u0000" in metadata_jcs:
        raise _invalid("metadata", "must not contain NUL characters")  # jsonb cannot store them
    entry_id = entry_id or uuid7()
    id_text = str(entry_id)  # once: the template and the COPY line both write it
    timestamp = timestamp or timezone.now()
    digest = hashlib.sha256(payload_jcs).hexdigest()
    try:
        template = entry_template(id=id_text, tenant_id=tenant_id, timestamp=timestamp, actor_type=actor_type,
                                  payload_hash=digest, metadata=metadata, metadata_jcs=metadata_jcs, **values)
    except LedgerHashError as exc:
        raise ValidationFailed(f"entry cannot be hashed: {exc}") from None
    return _unsaved({
        "pk_id": None, "id": entry_id, "tenant_id": tenant_id, "timestamp": timestamp, "actor_type": actor_type,
        "payload_hash": digest, "payload_jcs": payload_jcs.decode(), "metadata": metadata,
        "entry_template": template, "client_id": client_id, **values,
        # not columns, for _insert_many: the jsonb column's text, and the id's
        "metadata_jcs": metadata_jcs, "id_text": id_text})


def payload_limits() -> tuple[int, int]:
    """The largest canonical payload and metadata an entry may carry, in bytes."""
    return settings.MAESTRO_LEDGER_MAX_PAYLOAD_BYTES, settings.MAESTRO_LEDGER_MAX_METADATA_BYTES


def _unsaved(values: dict[str, Any]) -> IntakeEntry:
    """An unsaved ``IntakeEntry`` holding ``values`` (every field's attribute, ``metadata_jcs``
    and ``id_text``), without ``Model.__init__`` (maestro.core.instances): a batch makes a
    thousand."""
    return instance(IntakeEntry, values)


def intake_add(*, tenant_id: int, action_type: str, resource_type: str, resource_id: str, actor_id: str,
               actor_type: str, payload: dict[str, Any], metadata: dict[str, Any],
               entry_id: uuid.UUID | None = None) -> IntakeEntry:
    """Append to the ledger intake in the caller's transaction (no lock, no chain work)."""
    entry = intake_prepare(tenant_id=tenant_id, action_type=action_type, resource_type=resource_type,
                           resource_id=resource_id, actor_id=actor_id, actor_type=actor_type, payload=payload,
                           metadata=metadata, entry_id=entry_id, client_id=entry_id is not None)
    _insert(entry)
    return entry


_INTAKE_FIELDS = [f for f in IntakeEntry._meta.concrete_fields if f.attname != "pk_id"]
# str(): a concrete field's column is a str (the stubs allow None, for fields without one).
_INTAKE_SQL = (f"INSERT INTO {IntakeEntry._meta.db_table} ({', '.join(str(f.column) for f in _INTAKE_FIELDS)}) "
               f"VALUES ({', '.join(['%s'] * len(_INTAKE_FIELDS))}) RETURNING pk_id")


def _insert(entry: IntakeEntry) -> None:
    """``Model.save()`` minus its machinery: this runs inside every mutation of the system, and
    the ORM's signals and SQL compilation were half of its cost. The values go through each
    field's own conversion, so the row is exactly what ``save()`` would write."""
    values = [f.get_db_prep_save(getattr(entry, f.attname), connection) for f in _INTAKE_FIELDS]
    with connection.cursor() as cur:
        cur.execute(_INTAKE_SQL, values)
        entry.pk_id = cur.fetchone()[0]
    entry._state.adding = False


_COPY_COLUMNS = ("tenant_id", "timestamp", "action_type", "resource_type", "resource_id", "actor_id", "actor_type",
                 "id", "payload_hash", "payload_jcs", "entry_template", "client_id", "metadata")
_COPY_SQL = f"COPY {IntakeEntry._meta.db_table} ({', '.join(_COPY_COLUMNS)}) FROM STDIN"
if {(str(f.column), f.attname) for f in _INTAKE_FIELDS} != {(c, c) for c in _COPY_COLUMNS}:  # pragma: no cover
    raise ImportError("ledger.services: _COPY_COLUMNS does not name every intake column (as its attribute)")
_COPY_ROW = itemgetter(*_COPY_COLUMNS[:-1])  # the metadata goes as its canonical text, metadata_jcs


def _copy_row(fields: tuple[str, ...]) -> str:
    """A row of PostgreSQL's COPY text format: the fields escaped and tab-separated, in five
    C-level passes over the row instead of a call a field. The fields are joined on NUL, which
    none holds (intake_prepare refuses it in the names; canonical JSON writes it escaped), so
    a NUL in a field could only add a column, which COPY refuses: it cannot shift a value."""
    return ("\x00".join(fields).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r").replace("\x00", "\t"))


def _insert_many(entries: list[IntakeEntry]) -> None:
    """A batch's intake rows in one statement: COPY on PostgreSQL (``bulk_create`` compiled and
    sent a 13-column INSERT of every row, and converted every value through its field: half of
    an API batch's time). The rows are written as COPY text here, a line each (adapting each
    value through psycopg's row writer cost more than the rest of the insert); the metadata as
    its canonical text (``intake_prepare`` sets ``metadata_jcs`` on every entry it makes)."""
    if connection.vendor != "postgresql":
        IntakeEntry.objects.bulk_create(entries)
        return
    if len(entries) == 1:  # one INSERT is one round trip; a COPY takes two
        _insert(entries[0])
        return
    lines = []
    stamp, stamp_text = None, ""
    for entry in entries:
        (tenant_id, timestamp, action_type, resource_type, resource_id, actor_id, actor_type, _id, payload_hash,
         payload_jcs, template, client_id) = _COPY_ROW(entry.__dict__)
        if timestamp is not stamp:  # a batch's entries share their instant
            stamp, stamp_text = timestamp, timestamp.isoformat()
        lines.append(_copy_row((
            str(tenant_id), stamp_text, action_type, resource_type, resource_id, actor_id, actor_type, entry.id_text,
            payload_hash, payload_jcs, template, "t" if client_id else "f", entry.metadata_jcs.decode())))
    lines.append("")
    with connection.cursor() as cur, cur.cursor.copy(_COPY_SQL) as copy:
        copy.write("\n".join(lines))
    for entry in entries:
        entry._state.adding = False


def idempotency_entry_id(*, tenant_id: int, key: str) -> uuid.UUID:
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{tenant_id}:{key}")


def entries_append(*, tenant_id: int, items: list[dict[str, Any]],
                   submitted_by: Actor) -> list[tuple[IntakeEntry | LedgerEntry, bool]]:
    """Validate every item first (the whole request is refused, with ``details.index`` of the
    first bad item, before anything is stored), then insert the new ones as intake rows.

    ``actorId`` is the client's to state (an agent may append on behalf of a user), so the
    authenticated caller and the request id go into ``metadata._maestro`` (``submittedBy``,
    ``requestId``), covered by the entry hash; the client's own keys are kept as sent, and only
    ``_maestro`` is refused from a client.

    Returns ``(row, created)`` per item: an id that already exists in this tenant returns the
    existing intake row or entry (idempotency); ids are unique per tenant, so another tenant's
    use of the same id changes nothing (and is not revealed)."""
    prepared: list[IntakeEntry] = []
    seen: dict[uuid.UUID, int] = {}
    server = {"submittedBy": submitted_by.name, "requestId": current_request_id()}
    limits = payload_limits()
    # The request's entries are appended together: one instant, and their ids drawn at once.
    timestamp = timezone.now()
    fresh_ids = iter(uuid7s(sum(1 for item in items if item.get("id") is None)))
    for index, item in enumerate(items):
        metadata = item.get("metadata")
        if isinstance(metadata, dict):
            if SERVER_METADATA_KEY in metadata:
                raise ValidationFailed(
                    (f"entries[{index}]: " if len(items) > 1 else "") + f"metadata.{SERVER_METADATA_KEY} is set by "
                    "the server", details={"index": index, "field": f"metadata.{SERVER_METADATA_KEY}"})
            metadata = {**metadata, SERVER_METADATA_KEY: server}
        entry_id = item.get("id")
        client_id = entry_id is not None
        try:
            entry = intake_prepare(tenant_id=tenant_id, client_id=client_id, timestamp=timestamp,
                                   entry_id=entry_id if client_id else next(fresh_ids),
                                   action_type=item["action_type"], resource_type=item["resource_type"],
                                   resource_id=item["resource_id"], actor_id=item["actor_id"],
                                   actor_type=item["actor_type"], payload=item["payload"], metadata=metadata,
                                   limits=limits)
        except ValidationFailed as exc:
            raise ValidationFailed(f"entries[{index}]: {exc.message}" if len(items) > 1 else exc.message,
                                   details={"index": index, **exc.details}) from None
        if entry.id in seen:
            raise ValidationFailed(f"entries[{index}]: id {entry.id} repeats entries[{seen[entry.id]}]",
                                   details={"index": index, "field": "id"})
        seen[entry.id] = index
        prepared.append(entry)
    for attempt in (1, 2):
        try:
            return _store(tenant_id, prepared)
        except IntegrityError:
            # A concurrent request inserted one of these ids between our lookup and insert;
            # the second pass finds it and answers idempotently.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _lock_client_ids(ids: list[uuid.UUID]) -> None:
    """Serializes appends of one client-chosen id until the first one commits.

    The unique key of the intake table alone cannot: once the first append commits, the
    sequencer may move its row to the entries, and a second append that looked in both tables
    before that commit would then insert the same id into an intake table that no longer has
    it — a second entry with one id. Under this lock the second append looks only after the
    first committed, and the sequencer's move is atomic, so it finds the row in one table or
    the other. (SQLite, the single-process embedded default, serializes writers itself.)"""
    if not ids or connection.vendor != "postgresql":
        return
    keys = sorted({entry_id.int & 0x7FFFFFFF for entry_id in ids})  # in one order: no deadlock
    with connection.cursor() as cur:
        cur.execute("SELECT count(pg_advisory_xact_lock(%s, k)) FROM unnest(%s::int[]) AS k",
                    [CLIENT_ID_LOCK_NAMESPACE, keys])


def _store(tenant_id: int, prepared: list[IntakeEntry]) -> list[tuple[IntakeEntry | LedgerEntry, bool]]:
    client_ids = [p.id for p in prepared if p.client_id]
    # Only a client-chosen id can collide (a concurrent append of it): then the savepoint lets
    # entries_append retry inside its caller's transaction. Server ids are fresh uuid7s, and a
    # savepoint costs two round trips.
    with transaction.atomic(savepoint=bool(client_ids)):
        _lock_client_ids(client_ids)
        existing: dict[uuid.UUID, IntakeEntry | LedgerEntry] = {}
        if client_ids:
            # Intake first: the sequencer moves a row to the entries atomically, so a row missing
            # from intake now is visible among the entries by the second query. Ids are unique
            # per tenant: another tenant's use of an id is neither visible nor in the way.
            existing.update((e.id, e) for e in IntakeEntry.objects.filter(tenant_id=tenant_id, id__in=client_ids))
            existing.update((e.id, e) for e in LedgerEntry.objects.filter(tenant_id=tenant_id, id__in=client_ids))
        new = [p for p in prepared if p.id not in existing]
        if new:
            _insert_many(new)
            sequencer_poke_on_commit(tenant_ids=[tenant_id])
    return [(existing[p.id], False) if p.id in existing else (p, True) for p in prepared]


def sequencer_poke_on_commit(*, tenant_ids: list[int]) -> None:
    """After commit, ask the sequencer to chain these tenants' new intake rows (unless a
    wake-up is pending for the tenant already). A lost poke (broker down) only delays
    sequencing until the next sweep."""
    for tenant_id in tenant_ids:
        sequencer_wake_on_commit(tenant_id)


def entries_wait(*, tenant_id: int, ids: list[uuid.UUID], timeout: float | None = None) -> list[LedgerEntry] | None:
    """Wait (bounded) until these entries are sequenced, helping the sequencer along: the
    waiting request runs a batch itself when no worker holds the tenant. ``None`` on timeout."""
    deadline = time.monotonic() + (settings.MAESTRO_LEDGER_WAIT_SECONDS if timeout is None else timeout)
    delay = 0.005
    wanted = set(ids)
    while True:
        found = {e.id: e for e in LedgerEntry.objects.filter(tenant_id=tenant_id, id__in=wanted)}
        if len(found) == len(wanted):
            return [found[i] for i in ids]
        if time.monotonic() >= deadline:
            return None
        if sequence_tenant(tenant_id=tenant_id, max_batches=1) == 0:
            # A worker holds the tenant right now: give it a moment.
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.25)
