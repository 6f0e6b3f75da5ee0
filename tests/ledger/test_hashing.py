"""Tests for ledger.hashing: JCS entry hashes and the hash chain.

Known answers were derived by hand from the design contract: the canonical
JSON strings below were written out by hand in JCS order (keys sorted, no
whitespace, numbers in ECMAScript form) and their SHA-256 computed with
coreutils ``sha256sum`` (``printf '%s' '<json>' | sha256sum``), independently
of the code under test.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger.hashing import (
    ACTOR_TYPES,
    CHAIN_FIELDS,
    ENTRY_FIELDS,
    GENESIS_HASH,
    LedgerHashError,
    canonical_json,
    chain,
    entry_hash,
    format_timestamp,
    parse_timestamp,
    payload_hash,
)

PAYLOAD = {"title": "Q3 report", "pages": 3}
PAYLOAD_JCS = b'{"pages":3,"title":"Q3 report"}'
PAYLOAD_HASH = "ad31d96931fce0675baf826136eda0c95ae44f0df2927aa26640a544968c06f0"

ENTRY_1: dict[str, Any] = {
    "id": "0190f0a0-0000-7000-8000-000000000001",
    "tenant_id": "tenant-1",
    "sequence_number": 1,
    "timestamp": "2026-11-22T10:00:00.123456Z",
    "action_type": "document.created",
    "resource_type": "document",
    "resource_id": "doc-1",
    "actor_id": "user-1",
    "actor_type": "user",
    "payload_hash": PAYLOAD_HASH,
    "metadata": {"ip": "10.0.0.1"},
}
ENTRY_1_JCS = (
    b'{"actionType":"document.created","actorId":"user-1","actorType":"user",'
    b'"id":"0190f0a0-0000-7000-8000-000000000001","metadata":{"ip":"10.0.0.1"},'
    b'"payloadHash":"ad31d96931fce0675baf826136eda0c95ae44f0df2927aa26640a544968c06f0",'
    b'"previousHash":"0000000000000000000000000000000000000000000000000000000000000000",'
    b'"resourceId":"doc-1","resourceType":"document","sequenceNumber":1,'
    b'"tenantId":"tenant-1","timestamp":"2026-11-22T10:00:00.123456Z"}'
)
ENTRY_1_HASH = "019f507a0944711799b52d3e1ffae877d8570a503be7697745f2aebded8cad38"

ENTRY_2: dict[str, Any] = {
    **ENTRY_1,
    "id": "0190f0a0-0000-7000-8000-000000000002",
    "sequence_number": 2,
    "timestamp": "2026-11-22T10:00:01.000000Z",
    "action_type": "document.updated",
    "actor_id": None,
    "actor_type": "system",
    "metadata": {},
}
ENTRY_2_HASH = "bfb950c39869de56dc44e006fcffb0493cdf91d1c128796e8525d978ea5267e5"

# The contract's obj keys, written out independently of the module under test.
CAMEL = {
    "id": "id",
    "tenant_id": "tenantId",
    "sequence_number": "sequenceNumber",
    "previous_hash": "previousHash",
    "timestamp": "timestamp",
    "action_type": "actionType",
    "resource_type": "resourceType",
    "resource_id": "resourceId",
    "actor_id": "actorId",
    "actor_type": "actorType",
    "payload_hash": "payloadHash",
    "metadata": "metadata",
}


def reference_hash(previous_hash: str, entry: dict[str, Any]) -> str:
    """The contract, literally: build obj with the 12 keys, rfc8785, sha256."""
    obj = {CAMEL[k]: entry[k] for k in CAMEL if k != "previous_hash"}
    obj["previousHash"] = previous_hash
    for key in ("id", "tenantId", "resourceId", "actorId"):
        if isinstance(obj[key], uuid.UUID):
            obj[key] = str(obj[key])
    return hashlib.sha256(rfc8785.dumps(obj)).hexdigest()


# --- constants -------------------------------------------------------------


def test_constants_match_the_contract() -> None:
    assert GENESIS_HASH == "0" * 64
    assert ACTOR_TYPES == frozenset({"user", "system", "api", "job"})
    assert ENTRY_FIELDS == tuple(CAMEL.values())
    assert CHAIN_FIELDS == tuple(k for k in CAMEL if k != "previous_hash")


# --- canonical JSON / payload hash ----------------------------------------


def test_payload_hash_known_answer() -> None:
    assert canonical_json(PAYLOAD) == PAYLOAD_JCS
    assert payload_hash(PAYLOAD) == PAYLOAD_HASH


def test_numbers_are_canonicalised_like_ecmascript() -> None:
    # given a payload whose numbers have several spellings
    payload = {"b": [1, 2.5, True, None], "a": 1.0}
    # then 1.0 serialises as 1, and the hash matches the hand-written form
    assert canonical_json(payload) == b'{"a":1,"b":[1,2.5,true,null]}'
    assert payload_hash(payload) == "1138999b17a30c2a5c55f88147220c49fd60ca2bb796253abb131fcdfd18ca90"
    assert payload_hash({"n": 1.0}) == payload_hash({"n": 1})
    assert canonical_json(-0.0) == b"0"
    assert canonical_json(1e21) == b"1e+21"
    assert canonical_json(1e-7) == b"1e-7"
    assert canonical_json(0.000001) == b"0.000001"


def test_rfc8785_section_3_2_4_example() -> None:
    # The input/output example printed in RFC 8785 section 3.2.4.
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    ).encode()
    assert canonical_json(value) == expected


def test_unicode_is_raw_utf8_and_keys_sort_by_utf16() -> None:
    # given the key-sorting example of RFC 8785 section 3.2.3
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    # when
    out = canonical_json(value)
    # then members follow UTF-16 order (the emoji's surrogates D83D DE00 sort
    # before U+FB33) and non-ASCII text is raw UTF-8, not \u-escaped
    assert out == (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    ).encode("utf-8")


def test_unicode_and_escapes_known_answer() -> None:
    payload = {"note": 'line1\nline2 "q" \\', "name": "Zo\u00eb \u20ac"}
    assert canonical_json(payload) == '{"name":"Zo\u00eb \u20ac","note":"line1\\nline2 \\"q\\" \\\\"}'.encode()
    assert payload_hash(payload) == "f20600bc059e17700298acb93ce7ea5c6090947421f4a1143c2d82d763279421"


def test_key_order_does_not_matter_known_answer() -> None:
    assert payload_hash({"pages": 3, "title": "Q3 report"}) == PAYLOAD_HASH
    assert payload_hash(dict(reversed(list(PAYLOAD.items())))) == PAYLOAD_HASH


json_scalars = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=8), st.randoms(use_true_random=False))
def test_key_insertion_order_is_irrelevant(value: dict[str, Any], rnd: Any) -> None:
    # given the same members inserted in another order
    items = list(value.items())
    rnd.shuffle(items)
    # then the canonical form, and so the hash, is identical
    assert canonical_json(dict(items)) == canonical_json(value)
    assert payload_hash(dict(items)) == payload_hash(value)


@pytest.mark.parametrize(
    "bad",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        {"x": float("nan")},
        [1, float("inf")],
        b"bytes",
        {"b": b"\x00"},
        {1, 2},
        frozenset(),
        {1: "int key"},
        {("t",): "tuple key"},
        {"s": "\ud800"},  # lone surrogate: not encodable as UTF-8
        2**53,
        -(2**53),
        uuid.UUID(int=1),
        datetime(2026, 1, 1, tzinfo=UTC),
        object(),
    ],
)
def test_non_json_payloads_raise_ledger_hash_error(bad: object) -> None:
    with pytest.raises(LedgerHashError):
        payload_hash(bad)
    with pytest.raises(ValueError):  # LedgerHashError is a ValueError
        canonical_json(bad)


def test_deeply_nested_payload_raises_ledger_hash_error() -> None:
    value: Any = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(LedgerHashError, match="nested too deeply"):
        payload_hash(value)


# --- timestamps ----------------------------------------------------------


def test_format_timestamp_converts_to_utc_with_microseconds() -> None:
    cet = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2026, 11, 22, 11, 0, 0, 123456, tzinfo=cet)) == "2026-11-22T10:00:00.123456Z"
    assert format_timestamp(datetime(2026, 11, 22, tzinfo=UTC)) == "2026-11-22T00:00:00.000000Z"
    assert format_timestamp(datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "0999-01-02T03:04:05.000006Z"


def test_format_timestamp_rejects_naive_and_non_datetimes() -> None:
    with pytest.raises(LedgerHashError, match="timezone-aware"):
        format_timestamp(datetime(2026, 11, 22, 10, 0))  # noqa: DTZ001 - naive on purpose
    with pytest.raises(TypeError):
        format_timestamp("2026-11-22T10:00:00.123456Z")  # type: ignore[arg-type]


FIXED_ZONES = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59))
)


@settings(max_examples=100, deadline=None)
@given(st.datetimes(timezones=FIXED_ZONES))
def test_timestamp_round_trips(dt: datetime) -> None:
    try:
        text = format_timestamp(dt)
    except OverflowError:  # converting to UTC left year 1..9999
        return
    assert parse_timestamp(text) == dt
    assert format_timestamp(parse_timestamp(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22T10:00:00Z",
        "2026-11-22T10:00:00.123Z",
        "2026-11-22T10:00:00.123456+00:00",
        "2026-11-22 10:00:00.123456Z",
        "2026-11-22T10:00:00.123456z",
        "2026-02-30T10:00:00.000000Z",
        "2026-11-22T24:00:00.000000Z",
        "2026-11-22T10:00:00.123456Z\n",
    ],
)
def test_malformed_timestamps_are_rejected(text: str) -> None:
    with pytest.raises(LedgerHashError):
        parse_timestamp(text)
    with pytest.raises(LedgerHashError):
        entry_hash(**{**ENTRY_1, "timestamp": text}, previous_hash=GENESIS_HASH)


# --- entry hash -------------------------------------------------------------


def test_entry_hash_known_answer_genesis() -> None:
    # given the first entry of a tenant, whose JCS form was written by hand
    assert hashlib.sha256(ENTRY_1_JCS).hexdigest() == ENTRY_1_HASH
    # when / then
    assert entry_hash(**ENTRY_1, previous_hash=GENESIS_HASH) == ENTRY_1_HASH
    assert reference_hash(GENESIS_HASH, ENTRY_1) == ENTRY_1_HASH


def test_entry_hash_known_answer_second_entry_links_to_first() -> None:
    assert entry_hash(**ENTRY_2, previous_hash=ENTRY_1_HASH) == ENTRY_2_HASH
    assert chain([ENTRY_1, ENTRY_2], GENESIS_HASH) == [ENTRY_1_HASH, ENTRY_2_HASH]


def test_entry_hash_accepts_datetime_and_uuid_as_their_canonical_text() -> None:
    # given the same entry with a datetime timestamp and UUID identifiers
    entry = {
        **ENTRY_1,
        "id": uuid.UUID(ENTRY_1["id"]),
        "timestamp": datetime(2026, 11, 22, 11, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
    }
    # then the hash is the one of the plain-text entry
    assert entry_hash(**entry, previous_hash=GENESIS_HASH) == ENTRY_1_HASH


def test_entry_hash_integer_identifiers_hash_differently_from_strings() -> None:
    as_int = entry_hash(**{**ENTRY_1, "tenant_id": 7}, previous_hash=GENESIS_HASH)
    as_str = entry_hash(**{**ENTRY_1, "tenant_id": "7"}, previous_hash=GENESIS_HASH)
    assert as_int != as_str
    assert as_int == reference_hash(GENESIS_HASH, {**ENTRY_1, "tenant_id": 7})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("actor_type", "admin", "actor_type"),
        ("actor_type", None, "actor_type"),
        ("actor_type", ["user"], "actor_type"),
        ("payload_hash", PAYLOAD_HASH.upper(), "payload_hash"),
        ("payload_hash", PAYLOAD_HASH[:-1], "payload_hash"),
        ("sequence_number", 0, "sequence_number"),
        ("sequence_number", True, "sequence_number"),
        ("sequence_number", 1.0, "sequence_number"),
        ("sequence_number", "1", "sequence_number"),
        ("metadata", None, "metadata"),
        ("metadata", [], "metadata"),
        ("metadata", {"ip": float("nan")}, "canonical JSON"),
        ("metadata", {"when": uuid.UUID(int=3)}, "canonical JSON"),
        ("timestamp", datetime(2026, 11, 22, 10, 0), "timezone-aware"),  # noqa: DTZ001 - naive on purpose
        ("timestamp", 1700000000, "timestamp"),
        ("id", None, "id"),
        ("id", b"raw", "id"),
        ("tenant_id", 2**53, "safe-integer"),
        ("tenant_id", 1.5, "tenant_id"),
        ("resource_id", {"nested": 1}, "resource_id"),
        ("actor_id", "\udc00", "surrogate"),
        ("action_type", "", "action_type"),
        ("resource_type", 5, "resource_type"),
    ],
)
def test_invalid_fields_raise_ledger_hash_error(field: str, value: object, message: str) -> None:
    with pytest.raises(LedgerHashError, match=message):
        entry_hash(**{**ENTRY_1, field: value}, previous_hash=GENESIS_HASH)


def test_genesis_hash_is_required_exactly_for_sequence_number_one() -> None:
    with pytest.raises(LedgerHashError, match="GENESIS_HASH"):
        entry_hash(**ENTRY_1, previous_hash=ENTRY_2_HASH)
    with pytest.raises(LedgerHashError, match="GENESIS_HASH"):
        entry_hash(**ENTRY_2, previous_hash=GENESIS_HASH)
    with pytest.raises(LedgerHashError, match="previous_hash"):
        entry_hash(**ENTRY_2, previous_hash="not-a-hash")


def test_entry_hash_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        entry_hash(*ENTRY_1.values())  # type: ignore[misc]


# --- hypothesis: entries ----------------------------------------------------

HEX64 = st.text("0123456789abcdef", min_size=64, max_size=64).filter(lambda h: h != GENESIS_HASH)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
IDENT = TEXT | st.integers(-(2**53) + 1, 2**53 - 1) | st.uuids()
TIMESTAMPS = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)).map(  # noqa: DTZ001
    lambda d: format_timestamp(d.replace(tzinfo=UTC))
)
METADATA = st.dictionaries(TEXT, json_scalars | st.lists(json_scalars, max_size=3), max_size=4)
FIELD_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "id": IDENT,
    "tenant_id": IDENT,
    "sequence_number": st.integers(2, 2**53 - 1),
    "timestamp": TIMESTAMPS,
    "action_type": TEXT.filter(bool),
    "resource_type": TEXT.filter(bool),
    "resource_id": IDENT | st.none(),
    "actor_id": IDENT | st.none(),
    "actor_type": st.sampled_from(sorted(ACTOR_TYPES)),
    "payload_hash": HEX64,
    "metadata": METADATA,
}
ENTRIES = st.fixed_dictionaries(FIELD_STRATEGIES)


def normalised(value: object) -> object:
    return canonical_json(str(value) if isinstance(value, uuid.UUID) else value)


@settings(max_examples=200, deadline=None)
@given(ENTRIES, HEX64)
def test_entry_hash_equals_rfc8785_of_the_whole_object(entry: dict[str, Any], prev: str) -> None:
    # The spliced fast path must be byte-identical to JCS(obj).
    assert entry_hash(**entry, previous_hash=prev) == reference_hash(prev, entry)


@settings(max_examples=300, deadline=None)
@given(ENTRIES, HEX64, st.data())
def test_changing_any_field_changes_the_hash(entry: dict[str, Any], prev: str, data: st.DataObject) -> None:
    # given a valid entry and another valid value for one of its fields
    field = data.draw(st.sampled_from(("previous_hash", *CHAIN_FIELDS)))
    if field == "previous_hash":
        new_entry, new_prev = entry, data.draw(HEX64)
        assume(new_prev != prev)
    else:
        new_value = data.draw(FIELD_STRATEGIES[field])
        assume(normalised(new_value) != normalised(entry[field]))
        new_entry, new_prev = {**entry, field: new_value}, prev
    # then the hash changes
    assert entry_hash(**new_entry, previous_hash=new_prev) != entry_hash(**entry, previous_hash=prev)


STRING_FIELDS = ("previous_hash", "id", "tenant_id", "timestamp", "action_type",
                 "resource_type", "resource_id", "actor_id", "payload_hash")  # fmt: skip
BASE = {**ENTRY_2, "actor_id": "user-1", "previous_hash": ENTRY_1_HASH}


def hash_of(fields: dict[str, Any]) -> str:
    rest = dict(fields)
    prev = rest.pop("previous_hash")
    return entry_hash(**rest, previous_hash=prev)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(STRING_FIELDS), st.data())
def test_single_character_change_in_any_field_changes_the_hash(field: str, data: st.DataObject) -> None:
    # given the known second entry with one character of one field replaced
    original: str = BASE[field]
    pos = data.draw(st.integers(0, len(original) - 1))
    if field.endswith("hash"):
        alphabet = "0123456789abcdef"
    elif field == "timestamp":
        assume(original[pos].isdigit())
        alphabet = "0123456789"
    else:
        alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-._ \u00e9\u20ac"\\\n'
    char = data.draw(st.sampled_from(alphabet).filter(lambda c: c != original[pos]))
    changed = original[:pos] + char + original[pos + 1 :]
    if field == "timestamp":
        try:
            parse_timestamp(changed)
        except LedgerHashError:
            assume(False)
    # then
    assert hash_of({**BASE, field: changed}) != hash_of(BASE)


def test_every_actor_type_and_sequence_number_change_changes_the_hash() -> None:
    by_actor = {hash_of({**BASE, "actor_type": t}) for t in sorted(ACTOR_TYPES)}
    by_seq = {hash_of({**BASE, "sequence_number": n}) for n in (2, 3, 20, 2**53 - 1)}
    assert len(by_actor) == 4
    assert len(by_seq) == 4
    assert hash_of(BASE) == entry_hash(**{**ENTRY_2, "actor_id": "user-1"}, previous_hash=ENTRY_1_HASH)


# --- chain --------------------------------------------------------------------


def runs(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    entries = draw(st.lists(ENTRIES, min_size=0, max_size=12))
    start = draw(st.integers(1, 1000))
    tenant = draw(IDENT)
    for offset, entry in enumerate(entries):
        entry["sequence_number"] = start + offset
        entry["tenant_id"] = tenant
    prev = GENESIS_HASH if start == 1 else draw(HEX64)
    return prev, entries


RUNS = st.composite(runs)()


@settings(max_examples=100, deadline=None)
@given(RUNS)
def test_chain_equals_the_per_entry_loop(run: tuple[str, list[dict[str, Any]]]) -> None:
    # given a run of consecutive entries and the hash before it
    prev, entries = run
    # when
    hashes = chain(entries, prev)
    # then it equals threading entry_hash (and the contract) one entry at a time
    expected = []
    for entry in entries:
        current = entry_hash(**entry, previous_hash=prev)
        assert current == reference_hash(prev, entry)
        expected.append(current)
        prev = current
    assert hashes == expected


def test_chain_accepts_any_iterable_and_ignores_extra_keys() -> None:
    extra = ({**e, "payload": {"big": "blob"}, "current_hash": "x"} for e in (ENTRY_1, ENTRY_2))
    assert chain(extra, GENESIS_HASH) == [ENTRY_1_HASH, ENTRY_2_HASH]
    assert chain([], ENTRY_2_HASH) == []


def test_chain_checks_a_carried_previous_hash() -> None:
    ok = [{**ENTRY_1, "previous_hash": GENESIS_HASH}, {**ENTRY_2, "previous_hash": ENTRY_1_HASH}]
    assert chain(ok, GENESIS_HASH) == [ENTRY_1_HASH, ENTRY_2_HASH]
    with pytest.raises(LedgerHashError, match="entry 1 carries a previous_hash"):
        chain([ENTRY_1, {**ENTRY_2, "previous_hash": "1" * 64}], GENESIS_HASH)


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({**ENTRY_2, "sequence_number": 3}, "sequence_number 3, expected 2"),
        ({**ENTRY_2, "sequence_number": 1}, "GENESIS_HASH"),
        ({**ENTRY_2, "tenant_id": "tenant-2"}, "another tenant_id"),
        ({k: v for k, v in ENTRY_2.items() if k != "metadata"}, "lacks field 'metadata'"),
        ({**ENTRY_2, "actor_type": "robot"}, "actor_type"),
    ],
)
def test_chain_rejects_broken_runs(second: dict[str, Any], message: str) -> None:
    with pytest.raises(LedgerHashError, match=message):
        chain([ENTRY_1, second], GENESIS_HASH)


def test_chain_rejects_a_bad_starting_hash() -> None:
    with pytest.raises(LedgerHashError, match="GENESIS_HASH"):
        chain([ENTRY_2], GENESIS_HASH)
    with pytest.raises(LedgerHashError, match="previous_hash"):
        chain([ENTRY_2], "abc")


def test_large_finite_floats_in_metadata_hash_like_the_contract() -> None:
    entry = {**ENTRY_1, "metadata": {"x": 1e308}}
    assert entry_hash(**entry, previous_hash=GENESIS_HASH) == reference_hash(GENESIS_HASH, entry)


# Every character class JCS treats specially: controls, quote and backslash, DEL, U+2028, the
# range above the surrogates that UTF-16 sorts after astral characters, and astral ones.
tricky_text = st.text(alphabet=st.sampled_from(
    ["a", "Z", "0", " ", '"', "\\", "\x00", "\x1f", "\x7f", "\u2028", "é", "\ue000", "\uffff", "😀", "\U00010000"]),
    max_size=5)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | tricky_text | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text | st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(any_json)
def test_canonical_json_is_byte_for_byte_rfc8785(value: Any) -> None:
    # canonical_json takes the C encoder for plain values: it must give the reference's bytes
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [
    {"\ue000": 1, "😀": 2},  # sorted by UTF-16 units: U+1F600 (D83D…) before U+E000
    {"n": 1.0, "m": 1e21, "k": 1e-7, "j": -0.0},  # numbers in ECMAScript's form
    [2**53 - 1, -(2**53 - 1)],
    {"s": "\x00\x1f\x7f\u2028\"\\"},
])
def test_canonical_json_known_edges_match_the_reference(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)
