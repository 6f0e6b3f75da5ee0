"""Strict DRF fields: the API refuses a number where a string belongs (DRF's own fields
coerce), so a wrong type is a 400 instead of silently stored garbage."""

from __future__ import annotations

import math
from typing import Any

from rest_framework import serializers


class _Strict(serializers.Field[Any, Any, Any, Any]):
    """Refuses input that is not an ``accepts`` (or is a ``refuses``) before the DRF field
    would coerce it, with the field's own ``error`` message."""

    accepts: type | tuple[type, ...]
    refuses: type | tuple[type, ...] = ()
    error = "invalid"

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, self.refuses) or not isinstance(data, self.accepts):
            self.fail(self.error, input=data)
        return super().to_internal_value(data)


class StrictCharField(_Strict, serializers.CharField):
    accepts = str


class StrictBooleanField(_Strict, serializers.BooleanField):
    accepts = bool


class StrictIntegerField(_Strict, serializers.IntegerField):
    accepts, refuses = int, bool  # a bool is an int in Python, never in JSON


class StrictChoiceField(_Strict, serializers.ChoiceField):
    accepts, error = str, "invalid_choice"


class StringListField(serializers.ListField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", StrictCharField(max_length=200, allow_blank=False))
        kwargs.setdefault("max_length", 1000)
        super().__init__(**kwargs)


MAX_JSON_DEPTH = 64


def _encodable(value: str) -> bool:
    """No lone surrogate (U+D800-U+DFFF): exactly the strings UTF-8 can encode. (Looking at
    every character in Python took most of the validation of a ledger batch.)"""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(value: str) -> None:
    if "\x00" in value:
        raise serializers.ValidationError("Null characters are not allowed.")
    if not value.isascii() and not _encodable(value):
        raise serializers.ValidationError("Surrogate characters are not allowed.")


def check_storable(value: Any, *, depth: int = 0) -> None:
    """Refuses what PostgreSQL cannot store in text or jsonb — NUL characters and lone
    surrogates (SQLite would take them, so the two stores would disagree) — and absurd nesting.

    Strings inside a container are checked in place rather than by a call each (a ledger batch
    checks two objects an entry); the first refusal is the one a walk in order meets."""
    if depth > MAX_JSON_DEPTH:
        raise serializers.ValidationError(f"Nested deeper than {MAX_JSON_DEPTH} levels.")
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        if value and depth >= MAX_JSON_DEPTH:  # its members are a level too deep
            raise serializers.ValidationError(f"Nested deeper than {MAX_JSON_DEPTH} levels.")
        for key, item in value.items():
            if isinstance(key, str) and ("\x00" in key or not key.isascii()):
                _check_text(key)
            if isinstance(item, str):
                if "\x00" in item or not item.isascii():
                    _check_text(item)
            elif isinstance(item, dict | list):
                check_storable(item, depth=depth + 1)
    elif isinstance(value, list):
        if value and depth >= MAX_JSON_DEPTH:
            raise serializers.ValidationError(f"Nested deeper than {MAX_JSON_DEPTH} levels.")
        for item in value:
            if isinstance(item, str):
                if "\x00" in item or not item.isascii():
                    _check_text(item)
            elif isinstance(item, dict | list):
                check_storable(item, depth=depth + 1)


def plainly_storable(value: Any) -> bool:
    """Whether a :class:`StrictJSONField` takes ``value`` as it is: plain JSON values only
    (DRF's JSONField refuses an infinite number, JSON having none), nothing
    :func:`check_storable` refuses. For quick paths that leave every refusal to the field,
    which explains it; False may also mean "not sure" (a type JSON does not have)."""
    return _plain_member(value, -1)


def _plain_member(item: Any, depth: int) -> bool:
    """:func:`plainly_storable` of a member of a container ``depth`` deep: strings and the
    other scalars judged here, in place, since most members are one."""
    kind = type(item)
    if kind is str:
        return "\x00" not in item and (item.isascii() or _encodable(item))
    if kind is int or kind is bool or item is None:
        return True
    return _plainly_storable_other(item, depth + 1)


def _plainly_storable_other(value: Any, depth: int) -> bool:
    kind = type(value)
    if kind is float:
        return math.isfinite(value)
    if kind is dict:
        if value and depth >= MAX_JSON_DEPTH:
            return False
        for key, item in value.items():
            if type(key) is not str or "\x00" in key or not (key.isascii() or _encodable(key)):
                return False
            if not _plain_member(item, depth):
                return False
        return True
    if kind is list:
        if value and depth >= MAX_JSON_DEPTH:
            return False
        return all(_plain_member(item, depth) for item in value)
    return False


class StrictJSONField(serializers.JSONField):
    """Any JSON value that both stores can hold."""

    def to_internal_value(self, data: Any) -> Any:
        check_storable(data)
        return super().to_internal_value(data)


class JSONObjectField(StrictJSONField):
    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Expected a JSON object.")
        return super().to_internal_value(data)  # type: ignore[no-any-return]


class StringMapField(serializers.DictField):
    """``env``: string keys and string values, as a process environment has."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", StrictCharField(allow_blank=True, max_length=65536))
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Expected a JSON object of strings.")
        for key in data:
            check_storable(key)
        return super().to_internal_value(data)
