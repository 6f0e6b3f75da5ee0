"""Entry hashing for the tamper-evident provenance ledger.

Every entry is hashed as ``hex(SHA-256(JCS(obj)))`` (JCS = RFC 8785 canonical
JSON) where ``obj`` has exactly the twelve keys in :data:`ENTRY_FIELDS`.  The
payload is not in ``obj``; only ``payloadHash = hex(SHA-256(JCS(payload)))``
is, so payloads can be archived or redacted without breaking the chain.

Independent verifiers (other languages, years later) must reproduce these
hashes, so inputs are validated strictly: anything that is not plain JSON, or
whose text form the design fixes (hashes, timestamps, actor types), raises
:class:`LedgerHashError` rather than being coerced.  The only normalisations
are ``uuid.UUID -> str(uuid)`` for identifiers and aware ``datetime -> ...Z``
for the timestamp, each of which has exactly one canonical text form.

For speed the object is never built: JCS is compositional (``{`` + members
sorted by key + ``}``), so JCS-encoding each value and splicing it behind a
precomputed ``"key":`` prefix yields the same bytes as ``rfc8785.dumps(obj)``
at about half the cost.  The tests check that equivalence.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from operator import itemgetter
from typing import Any, Final, TypedDict, Unpack

import orjson
import rfc8785

from maestro.core.wire import to_iso

__all__ = [
    "ACTOR_TYPES",
    "CHAIN_FIELDS",
    "ENTRY_FIELDS",
    "GENESIS_HASH",
    "LedgerHashError",
    "canonical_json",
    "chain",
    "entry_hash",
    "format_timestamp",
    "parse_timestamp",
    "payload_hash",
]

GENESIS_HASH: Final[str] = "0" * 64
"""``previousHash`` of every tenant's first entry (sequence number 1)."""

ACTOR_TYPES: Final[frozenset[str]] = frozenset({"user", "system", "api", "job"})
"""The only values allowed for ``actorType``."""

ENTRY_FIELDS: Final[tuple[str, ...]] = (
    "id",
    "tenantId",
    "sequenceNumber",
    "previousHash",
    "timestamp",
    "actionType",
    "resourceType",
    "resourceId",
    "actorId",
    "actorType",
    "payloadHash",
    "metadata",
)
"""The exact keys of the hashed object (design-doc order, not JCS order)."""

CHAIN_FIELDS: Final[tuple[str, ...]] = (
    "id",
    "tenant_id",
    "sequence_number",
    "timestamp",
    "action_type",
    "resource_type",
    "resource_id",
    "actor_id",
    "actor_type",
    "payload_hash",
    "metadata",
)
"""Keys every :func:`chain` entry needs: :func:`entry_hash`'s keyword names
minus ``previous_hash``, which the chain threads through."""

_MAX_SAFE_INT: Final = 2**53 - 1  # I-JSON / RFC 8785 integer limit
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')


class LedgerHashError(ValueError):
    """An entry or payload cannot be hashed deterministically.

    A ``ValueError`` so generic validation handlers catch it; callers that
    care can catch exactly this class.
    """


def _plain(obj: object) -> bool:
    """Whether ``json.dumps`` (sorted keys, no spaces, UTF-8) writes ``obj`` exactly as JCS
    does: strings, safe integers, booleans, null, lists and objects whose keys sort the same
    by code point as by UTF-16 unit (none at or above U+D800). Floats are not: JCS writes
    numbers as ECMAScript does (``1.0`` is ``1``, ``1e21`` stays), Python otherwise.
    A container's scalars are judged in one loop, not by a call each (half the time)."""
    kind = type(obj)
    if kind is str or kind is bool or obj is None:
        return True
    if kind is int:
        return -_MAX_SAFE_INT <= obj <= _MAX_SAFE_INT  # type: ignore[operator]  # an int
    if kind is dict:
        for key in obj:  # type: ignore[attr-defined]  # a dict
            if type(key) is not str or not (key.isascii() or max(key) < "\ud800"):
                return False
        return _plain_items(obj.values())  # type: ignore[attr-defined]
    if kind is list:
        return _plain_items(obj)  # type: ignore[arg-type]  # a list
    return False


def _plain_items(values: Iterable[object]) -> bool:
    """:func:`_plain` of every value, the scalars judged here rather than by a call each."""
    for value in values:
        kind = type(value)
        if kind is str or kind is bool or value is None:
            continue
        if kind is int:
            if not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:  # type: ignore[operator]  # an int
                return False
        elif not _plain(value):
            return False
    return True


# json.dumps with any option builds an encoder per call: a third of encoding a small object.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical_json(obj: object) -> bytes:
    """Return the RFC 8785 (JCS) encoding of ``obj`` as UTF-8 bytes.

    Only plain JSON is accepted: ``dict`` with ``str`` keys, ``list``/``tuple``,
    ``str``, ``int`` within +/-(2**53 - 1), finite ``float``, ``bool``, ``None``.
    Anything else (sets, bytes, NaN, UUID, Decimal, lone surrogates, non-str
    keys, ...) raises :class:`LedgerHashError`, because any implicit
    conversion is one a verifier elsewhere could not reproduce.
    """
    try:
        if _plain(obj):
            # orjson, else the C encoder: several times faster than rfc8785's, the same bytes for
            # these values (tests/ledger/test_hashing.py holds them equal). orjson refuses what
            # it cannot write (a lone surrogate, nesting past its limit): then the C encoder,
            # where a lone surrogate fails to encode and falls through to rfc8785, which refuses it.
            try:
                return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
            except orjson.JSONEncodeError:
                pass
            try:
                return _ENCODER.encode(obj).encode("utf-8")
            except UnicodeEncodeError:
                pass
        return rfc8785.dumps(obj)  # type: ignore[arg-type]  # any object: rfc8785 refuses what is not JSON
    except rfc8785.CanonicalizationError as exc:
        raise LedgerHashError(f"value is not canonical JSON: {exc}") from exc
    except RecursionError as exc:
        raise LedgerHashError("value is nested too deeply to canonicalise") from exc
    except (TypeError, ValueError, AttributeError) as exc:
        raise LedgerHashError(f"value is not JSON-serialisable: {exc!r}") from exc


def payload_hash(payload: object) -> str:
    """Return ``hex(SHA-256(JCS(payload)))``, the entry's ``payloadHash``."""
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def format_timestamp(dt: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC.

    Naive datetimes are rejected: guessing their zone would make the hash
    depend on server settings. The format is the API's ISO form (:mod:`maestro.core.wire`).
    """
    if not isinstance(dt, datetime):
        raise TypeError(f"timestamp must be a datetime, not {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise LedgerHashError(f"timestamp must be timezone-aware, got {dt!r}")
    return to_iso(dt)


def parse_timestamp(value: str) -> datetime:
    """Parse a ledger timestamp back into an aware UTC datetime.

    Only the exact :func:`format_timestamp` form of a real instant is accepted
    (no offsets other than ``Z``, exactly six fractional digits, no 25:00).
    """
    if not isinstance(value, str) or _TIMESTAMP.fullmatch(value) is None:
        raise LedgerHashError(f"timestamp must look like 2026-11-22T10:00:00.123456Z, got {value!r}")
    try:
        return datetime.fromisoformat(value)  # Python >= 3.11 understands "Z"
    except ValueError as exc:
        raise LedgerHashError(f"timestamp {value!r} is not a real date/time") from exc


# JCS orders members by the UTF-16 code units of their keys.  _encode_entry
# concatenates values in this order; the import-time check keeps them in sync.
_JCS_ORDER: Final = (
    "actionType",
    "actorId",
    "actorType",
    "id",
    "metadata",
    "payloadHash",
    "previousHash",
    "resourceId",
    "resourceType",
    "sequenceNumber",
    "tenantId",
    "timestamp",
)
if tuple(sorted(ENTRY_FIELDS, key=lambda k: k.encode("utf-16-be"))) != _JCS_ORDER:
    raise ImportError("ledger.hashing: _JCS_ORDER is not the JCS order")  # pragma: no cover
_K = {key: b',"' + key.encode("ascii") + b'":' for key in _JCS_ORDER}
_OPEN: Final = b'{"actionType":'


def _encode_str(value: str, field: str) -> bytes:
    """JCS-encode a string; the fast path is byte-identical to rfc8785's."""
    if _NEEDS_ESCAPE.search(value) is None:
        try:
            return b'"' + value.encode("utf-8") + b'"'
        except UnicodeEncodeError as exc:
            raise LedgerHashError(f"{field} contains a lone surrogate") from exc
    return canonical_json(value)


def _encode_id(value: object, field: str, *, nullable: bool) -> bytes:
    if isinstance(value, str):
        return _encode_str(value, field)
    if isinstance(value, uuid.UUID):
        return b'"' + str(value).encode("ascii") + b'"'
    if isinstance(value, int) and not isinstance(value, bool):
        if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            return str(int(value)).encode("ascii")
        raise LedgerHashError(f"{field} {value} is outside the JSON safe-integer range")
    if value is None and nullable:
        return b"null"
    kind = "str, int, UUID or None" if nullable else "str, int or UUID"
    raise LedgerHashError(f"{field} must be a {kind}, not {type(value).__name__}")


def _encode_name(value: object, field: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise LedgerHashError(f"{field} must be a non-empty str, got {value!r}")
    return _encode_str(value, field)


def _encode_hex64(value: object, field: str) -> bytes:
    if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
        raise LedgerHashError(f"{field} must be 64 lowercase hex digits, got {value!r}")
    return b'"' + value.encode("ascii") + b'"'


# The last datetime encoded and its encoding (it holds the datetime, so no other can take its id).
_last_timestamp: tuple[datetime | None, bytes] = (None, b"")


def _encode_timestamp(value: object) -> bytes:
    global _last_timestamp
    if isinstance(value, datetime):
        last = _last_timestamp
        if value is last[0]:  # the entries of one append share their instant
            return last[1]
        encoded = b'"' + format_timestamp(value).encode("ascii") + b'"'
        _last_timestamp = (value, encoded)  # one tuple: threads see the old pair or the new
        return encoded
    if not isinstance(value, str):
        raise LedgerHashError(f"timestamp must be a str or datetime, got {value!r}")
    parse_timestamp(value)  # exact format *and* a real instant; well under 1 us
    return b'"' + value.encode("ascii") + b'"'


def _encode_entry(
    previous_hash: object,
    id: object,
    tenant_id: object,
    sequence_number: object,
    timestamp: object,
    action_type: object,
    resource_type: object,
    resource_id: object,
    actor_id: object,
    actor_type: object,
    payload_hash: object,
    metadata: object,
    metadata_jcs: bytes | None = None,
) -> bytes:
    """Validate the twelve fields and return ``JCS(obj)`` without building obj.

    Parameter order is ``previous_hash`` followed by :data:`CHAIN_FIELDS`, so
    :func:`chain` can call it with one ``itemgetter`` per entry. ``metadata_jcs``: the caller's
    ``canonical_json(metadata)``, when it has it already.
    """
    seq = sequence_number
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq <= _MAX_SAFE_INT:
        raise LedgerHashError(f"sequence_number must be an int >= 1, got {seq!r}")
    prev = _encode_hex64(previous_hash, "previous_hash")
    if (seq == 1) != (previous_hash == GENESIS_HASH):
        raise LedgerHashError(
            f"previous_hash must be GENESIS_HASH exactly when sequence_number is 1 (sequence_number={seq})"
        )
    return _encode_members(prev, str(seq).encode("ascii"), id, tenant_id, timestamp, action_type, resource_type,
                           resource_id, actor_id, actor_type, payload_hash, metadata, metadata_jcs)


def _encode_members(
    prev: bytes,
    seq: bytes,
    id: object,
    tenant_id: object,
    timestamp: object,
    action_type: object,
    resource_type: object,
    resource_id: object,
    actor_id: object,
    actor_type: object,
    payload_hash: object,
    metadata: object,
    metadata_jcs: bytes | None,
) -> bytes:
    """``JCS(obj)`` with ``previousHash`` and ``sequenceNumber`` given as the bytes to write
    (:func:`_encode_entry` validated them; :func:`entry_template` writes its holes); the
    other ten fields validated here."""
    if not isinstance(actor_type, str) or actor_type not in ACTOR_TYPES:
        raise LedgerHashError(f"actor_type must be one of {sorted(ACTOR_TYPES)}, got {actor_type!r}")
    if type(metadata) is dict or isinstance(metadata, Mapping):  # the ABC check costs 8x the type check
        meta = metadata_jcs if metadata_jcs is not None else \
            canonical_json(metadata if isinstance(metadata, dict) else dict(metadata))
    else:
        raise LedgerHashError(f"metadata must be a JSON object, got {metadata!r}")
    k = _K
    return b"".join((
        _OPEN, _encode_name(action_type, "action_type"),
        k["actorId"], _encode_id(actor_id, "actor_id", nullable=True),
        k["actorType"], b'"' + actor_type.encode("ascii") + b'"',
        k["id"], _encode_id(id, "id", nullable=False),
        k["metadata"], meta,
        k["payloadHash"], _encode_hex64(payload_hash, "payload_hash"),
        k["previousHash"], prev,
        k["resourceId"], _encode_id(resource_id, "resource_id", nullable=True),
        k["resourceType"], _encode_name(resource_type, "resource_type"),
        k["sequenceNumber"], seq,
        k["tenantId"], _encode_id(tenant_id, "tenant_id", nullable=False),
        k["timestamp"], _encode_timestamp(timestamp),
        b"}",
    ))  # fmt: skip


class EntryFields(TypedDict):
    """What an entry says apart from its place in the chain: the hashed members other than
    ``sequenceNumber`` and ``previousHash``. ``id``/``tenant_id`` are ``str``, ``int`` or
    ``uuid.UUID`` (hashed as its canonical string); ``resource_id``/``actor_id`` may also be
    ``None``; ``timestamp`` is a ``...SS.ffffffZ`` string or an aware ``datetime``."""

    id: object
    tenant_id: object
    timestamp: str | datetime
    action_type: str
    resource_type: str
    resource_id: object
    actor_id: object
    actor_type: str
    payload_hash: str
    metadata: Mapping[str, object]


def _encode_fields(previous_hash: object, sequence_number: object, f: EntryFields,
                   metadata_jcs: bytes | None = None) -> bytes:
    return _encode_entry(
        previous_hash, f["id"], f["tenant_id"], sequence_number, f["timestamp"], f["action_type"],
        f["resource_type"], f["resource_id"], f["actor_id"], f["actor_type"], f["payload_hash"], f["metadata"],
        metadata_jcs,
    )  # fmt: skip


def entry_hash(*, sequence_number: int, previous_hash: str, **fields: Unpack[EntryFields]) -> str:
    """Return the entry's ``currentHash``: ``hex(SHA-256(JCS(obj)))``.

    ``previous_hash`` must be :data:`GENESIS_HASH` iff ``sequence_number`` is
    1, so a mis-threaded chain fails here instead of at audit time.
    """
    return hashlib.sha256(_encode_fields(previous_hash, sequence_number, fields)).hexdigest()


def chain(entries: Iterable[Mapping[str, object]], previous_hash: str) -> list[str]:
    """Hash a run of consecutive entries of one tenant, threading the chain.

    Each entry maps the :data:`CHAIN_FIELDS` keys to values as accepted by
    :func:`entry_hash`.  Other keys are ignored, except that a
    ``previous_hash`` key, if present, must equal the hash being threaded.
    ``previous_hash`` is the ``currentHash`` of the entry just before the run
    (:data:`GENESIS_HASH` for a new log).

    Returns each entry's ``currentHash`` in order; the last is the new head.
    Sequence numbers must increase by exactly one and ``tenant_id`` must not
    change, because a sequencer that got either wrong would persist a chain
    that can never verify.
    """
    sha256 = hashlib.sha256
    encode = _encode_entry
    fields = itemgetter(*CHAIN_FIELDS)
    hashes: list[str] = []
    prev = previous_hash
    seq = 0
    tenant: object = None
    for position, entry in enumerate(entries):
        try:
            values: Any = fields(entry)
        except KeyError as exc:
            raise LedgerHashError(f"chain entry {position} lacks field {exc}") from exc
        data = encode(prev, *values)  # validates, so values[2] is now an int
        if position:
            if values[2] != seq + 1:
                raise LedgerHashError(f"chain entry {position} has sequence_number {values[2]!r}, expected {seq + 1}")
            if values[1] != tenant:
                raise LedgerHashError(f"chain entry {position} has another tenant_id")
        else:
            tenant = values[1]
        if "previous_hash" in entry and entry["previous_hash"] != prev:
            raise LedgerHashError(f"chain entry {position} carries a previous_hash that breaks the chain")
        seq = values[2]
        prev = sha256(data).hexdigest()
        hashes.append(prev)
    return hashes


# ---- the template fast path (used by the sequencer) --------------------------------------

_HOLE_PREV = b'"\n"'  # previousHash is a JSON string: the hole is inside its quotes
_HOLE_SEQ = b"\n"


def entry_template(*, metadata_jcs: bytes | None = None, **fields: Unpack[EntryFields]) -> str:
    """Return ``JCS(obj)`` with two holes, for ``previousHash`` and ``sequenceNumber``.

    Everything about an entry except its position is known when it is appended, so the
    appender validates and encodes it once; the sequencer then only splices the two values in
    (:func:`chain_templates`), which is several times cheaper than :func:`entry_hash`. The holes
    are marked by ``"\\n"``: JCS escapes control characters, so it never emits a raw newline.
    The members come from the same encoder as :func:`entry_hash`'s, so both give the same hash.
    ``metadata_jcs``: ``canonical_json(metadata)``, when the caller has encoded it already.
    """
    f = fields
    return _encode_members(
        _HOLE_PREV, _HOLE_SEQ, f["id"], f["tenant_id"], f["timestamp"], f["action_type"], f["resource_type"],
        f["resource_id"], f["actor_id"], f["actor_type"], f["payload_hash"], f["metadata"], metadata_jcs,
    ).decode("utf-8")  # fmt: skip


def chain_templates(templates: Iterable[str], first_sequence: int, previous_hash: str) -> list[str]:
    """Hash consecutive entries from their :func:`entry_template` strings, threading the chain
    from ``previous_hash`` (the hash of entry ``first_sequence - 1``). Same result as
    :func:`chain` over the same entries."""
    if not isinstance(first_sequence, int) or isinstance(first_sequence, bool) or first_sequence < 1:
        raise LedgerHashError(f"first_sequence must be an int >= 1, got {first_sequence!r}")
    if (first_sequence == 1) != (previous_hash == GENESIS_HASH):
        raise LedgerHashError("previous_hash must be GENESIS_HASH exactly when the chain starts at 1")
    sha256 = hashlib.sha256
    prev, seq, out = previous_hash, first_sequence, []
    for position, template in enumerate(templates):
        parts = template.split("\n")
        if len(parts) != 3:
            raise LedgerHashError(f"template {position} is not an entry_template() result")
        prev = sha256(f"{parts[0]}{prev}{parts[1]}{seq}{parts[2]}".encode()).hexdigest()
        out.append(prev)
        seq += 1
    return out


__all__ += ["chain_templates", "entry_template"]
