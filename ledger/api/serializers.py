"""Input validation for /api/ledger/. Output shapes live in ledger.representations."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ledger.hashing import ACTOR_TYPES
from maestro.api.fields import JSONObjectField, StrictCharField, StrictChoiceField
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
