"""How request bodies are published: what the strict serializers and fields really accept
(drf-spectacular, left alone, would publish a JSON field as "anything, null included" and every
body as open to any extra key, which the API refuses)."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.drainage import has_override
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from maestro.api.fields import JSONObjectField
from maestro.api.serializers import StrictSerializer

# Any JSON value but null (OpenAPI 3.0 has no "not null": the alternatives are listed).
NOT_NULL: dict[str, Any] = {"anyOf": [{"type": "object", "additionalProperties": {}}, {"type": "array", "items": {}},
                                      {"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
IGNORED = "Sent by the old clients; accepted and not used."
# A character str.strip() keeps: DRF trims a string before refusing it as blank, and Python's
# whitespace is not a regex engine's \s (it has U+001C-U+001F and U+0085, not U+FEFF).
NOT_BLANK = "[^" + "".join(f"\\u{c:04x}" for c in range(0x10000) if chr(c).isspace()) + "]"


class MaestroAutoSchema(AutoSchema):
    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)  # type: ignore[no-untyped-call]
        cls = type(serializer)
        if "__doc__" not in cls.__dict__ or not cls.__doc__:
            schema.pop("description", None)  # not a base class's docstring on every body
        if direction == "request" and isinstance(serializer, StrictSerializer):
            properties = schema.setdefault("properties", {})
            for name in serializer.ignored:
                if name not in properties and name not in serializer.undocumented:
                    properties[name] = {"description": IGNORED}
            schema["additionalProperties"] = False
            if serializer.view_checked:
                properties.update(serializer.view_checked)
                schema["required"] = sorted({*schema.get("required", ()), *serializer.view_checked})
            changes = [name for name in properties if name not in ("version", *serializer.ignored)]
            one_of = serializer.require_any or (changes if serializer.change_required else ())
            if one_of:
                schema["anyOf"] = [{"required": [name]} for name in one_of]
        return schema

    def _map_serializer_field(self, field: Any, direction: Any, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)  # type: ignore[no-untyped-call]
        if not isinstance(schema, dict) or direction != "request":
            return schema
        if has_override(field, "field"):
            pass  # the field says its own schema
        elif isinstance(field, JSONObjectField):
            schema = {"type": "object", "additionalProperties": {}, **schema}
        elif isinstance(field, serializers.JSONField) and not field.allow_null:
            schema = {**NOT_NULL, **schema}
        item_serializer = getattr(field, "item_serializer", None)
        if item_serializer is not None:  # a list of objects each validated by a serializer
            schema["items"] = self.resolve_serializer(item_serializer, direction).ref
        if isinstance(field, serializers.ListField) and not field.allow_empty:
            schema.setdefault("minItems", 1)
        if isinstance(field, serializers.DictField) and not field.allow_empty:
            schema.setdefault("minProperties", 1)
        # Blank once trimmed is refused (a field with a pattern of its own publishes that one).
        blank_refused = isinstance(field, serializers.CharField) and field.trim_whitespace and not field.allow_blank
        if blank_refused and not any(isinstance(v, RegexValidator) for v in field.validators):
            schema.setdefault("pattern", NOT_BLANK)
        return schema

    def _unwrap_list_serializer(self, serializer: Any, direction: Any) -> Any:
        schema = super()._unwrap_list_serializer(serializer, direction)
        if isinstance(schema, dict) and isinstance(serializer, serializers.ListSerializer):
            for key, bound in (("minItems", "min_length"), ("maxItems", "max_length")):
                if getattr(serializer, bound, None) is not None:
                    schema[key] = getattr(serializer, bound)
        return schema

    def _get_request_for_media_type(self, serializer: Any, direction: Any = "request") -> Any:
        schema, required = super()._get_request_for_media_type(serializer, direction)  # type: ignore[no-untyped-call]
        cls = serializer if isinstance(serializer, type) else type(serializer)
        if issubclass(cls, StrictSerializer) and (cls.change_required or cls.require_any or cls.view_checked):
            required = True  # the view refuses a missing body as it refuses an empty one
        return schema, required
