"""The base of every request body: keys it does not declare are refused with the field named,
so a typo or a wrong field cannot silently do nothing."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from maestro.api.fields import StrictIntegerField


class StrictSerializer(serializers.Serializer[Any]):
    """Refuses keys it does not declare. ``ignored`` lists keys the old clients send that carry
    nothing to act on (server-owned values they echo back: ``createdAt``, ``completedAt``, …):
    accepted and dropped, so those clients keep working."""

    ignored: tuple[str, ...] = ()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields) - set(self.ignored))
            if unknown:
                raise serializers.ValidationError({k: ["Unknown field."] for k in unknown})
            data = {k: v for k, v in data.items() if k not in self.ignored or k in self.fields}
        return super().to_internal_value(data)


class VersionMixin(serializers.Serializer[Any]):
    # The body may carry the version it was based on, as an alternative to If-Match.
    version = StrictIntegerField(required=False, min_value=1)
