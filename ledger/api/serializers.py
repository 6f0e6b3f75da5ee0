"""Input validation for /api/ledger/. Output shapes live in ledger.representations."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ledger.hashing import ACTOR_TYPES
from maestro.api.fields import JSONObjectField, StrictCharField, StrictChoiceField, plainly_storable
from maestro.api.serializers import StrictSerializer


@extend_schema_field(OpenApiTypes.UUID)
class StrictUUIDField(serializers.Field[uuid.UUID, Any, str, Any]):
    default_error_messages = {"invalid": "Must be a UUID string."}

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return uuid.UUID(data)
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value: Any) -> str:
        return str(value)


class EntryIn(StrictSerializer):
    """One entry to append. ``actorId``/``actorType`` default to the caller."""

    id = StrictUUIDField(required=False)
    actionType = StrictCharField(max_length=100, allow_blank=False, source="action_type")
    resourceType = StrictCharField(max_length=100, allow_blank=False, source="resource_type")
    resourceId = StrictCharField(max_length=200, allow_blank=True, required=False, default="", source="resource_id")
    actorId = StrictCharField(max_length=200, allow_blank=True, required=False, source="actor_id")
    actorType = StrictChoiceField(choices=sorted(ACTOR_TYPES), required=False, source="actor_type",
                                  error_messages={"invalid_choice": "unknown actor type {input!r}"})
    payload = JSONObjectField(required=False, default=dict)
    metadata = JSONObjectField(required=False, default=dict)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({unknown[0]: [f"unknown field (allowed: {', '.join(self.fields)})"]})
        return super().to_internal_value(data)


_NAMES = (("actionType", "action_type", 100, True), ("resourceType", "resource_type", 100, True),
          ("resourceId", "resource_id", 200, False), ("actorId", "actor_id", 200, False))
_KEYS = frozenset(("id", "actionType", "resourceType", "resourceId", "actorId", "actorType", "payload", "metadata"))


def _plain_string(value: Any, limit: int, required: bool) -> bool:
    """A string EntryIn keeps exactly as sent: within the limit, not blank where it must not
    be, no surrounding whitespace (DRF would trim it), no NUL, no lone surrogate."""
    if type(value) is not str or len(value) > limit or value != value.strip() or (required and not value):
        return False
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def entry_plainly_valid(data: Any) -> dict[str, Any] | None:
    """What ``EntryIn().run_validation(data)`` returns, when ``data`` is a plainly valid entry
    (the usual case, decided in a few look-ups); else None, and EntryIn itself must say what is
    wrong (its messages are the API's). A batch of a thousand entries spent most of its time in
    DRF's field machinery; tests/ledger/api/test_serializers.py holds the two to the same answers."""
    if type(data) is not dict or not data.keys() <= _KEYS:
        return None
    out: dict[str, Any] = {}
    if "id" in data:
        raw = data["id"]
        if type(raw) is not str:
            return None
        try:
            out["id"] = uuid.UUID(raw)
        except ValueError:
            return None
    for name, source, limit, required in _NAMES:
        if name in data:
            if not _plain_string(data[name], limit, required):
                return None
            out[source] = data[name]
        elif required:
            return None
    out.setdefault("resource_id", "")
    if "actorType" in data:
        if type(data["actorType"]) is not str or data["actorType"] not in ACTOR_TYPES:
            return None
        out["actor_type"] = data["actorType"]
    for name in ("payload", "metadata"):
        value = data.get(name, {})
        if type(value) is not dict or not plainly_storable(value):
            return None
        out[name] = value
    return out
