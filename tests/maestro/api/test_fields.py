"""check_storable refuses exactly what the plain recursive walk of its definition refuses, with
the same first message: the one a walk in order meets; plainly_storable passes exactly the JSON
values a StrictJSONField takes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from maestro.api.fields import MAX_JSON_DEPTH, check_storable, plainly_storable


def reference(value: Any, depth: int = 0) -> None:
    """The definition: every key and value visited in order, one level deeper than its container."""
    if depth > MAX_JSON_DEPTH:
        raise serializers.ValidationError(f"Nested deeper than {MAX_JSON_DEPTH} levels.")
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError("Null characters are not allowed.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise serializers.ValidationError("Surrogate characters are not allowed.") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            reference(key, depth + 1)
            reference(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            reference(item, depth + 1)


def verdict(check: Any, value: Any) -> str | None:
    try:
        check(value)
    except serializers.ValidationError as exc:
        return str(exc.detail[0])
    return None


text = st.text(alphabet=st.sampled_from(["a", "é", "\x00", "\ud800", "\udfff", "😀", " "]), max_size=4)
values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text
                      | st.sampled_from([float("inf"), -float("inf")]),
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                      max_leaves=24)


def nested(depth: int, leaf: Any, kind: str) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if (kind == "list" or (kind == "mixed" and i % 2)) else {"k": value}
    return value


@settings(max_examples=500, deadline=None)
@given(values)
def test_any_value_gets_the_definitions_answer(value):
    assert verdict(check_storable, value) == verdict(reference, value)


@given(depth=st.integers(MAX_JSON_DEPTH - 2, MAX_JSON_DEPTH + 2),
       leaf=st.sampled_from([1, "a", "\x00", {}, [], None]), kind=st.sampled_from(["list", "dict", "mixed"]))
def test_the_depth_limit_is_where_the_definition_puts_it(depth, leaf, kind):
    value = nested(depth, leaf, kind)
    assert verdict(check_storable, value) == verdict(reference, value)


def field_takes(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)  # DRF's JSONField: no infinite numbers
    except ValueError:
        return False
    return verdict(reference, value) is None


@settings(max_examples=500, deadline=None)
@given(values)
def test_plainly_storable_is_what_the_field_takes(value):
    assert plainly_storable(value) == field_takes(value)


@given(depth=st.integers(MAX_JSON_DEPTH - 2, MAX_JSON_DEPTH + 2),
       leaf=st.sampled_from([1, "a", "\x00", {}, [], None, float("inf")]),
       kind=st.sampled_from(["list", "dict", "mixed"]))
def test_plainly_storable_keeps_the_depth_limit(depth, leaf, kind):
    value = nested(depth, leaf, kind)
    assert plainly_storable(value) == field_takes(value)
