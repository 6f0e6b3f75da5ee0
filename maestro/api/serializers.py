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
    # Published with the body's schema (maestro.api.autoschema): ``ignored`` keys are, except the
    # ``undocumented`` ones, whose value a view checks against the request (a body ``id`` must
    # repeat the path's, which a schema cannot say). ``change_required``: the view refuses a body
    # that changes nothing ("Nothing to update"), so the schema requires one changing key;
    # ``require_any``: the view refuses a body without one of these keys.
    undocumented: tuple[str, ...] = ()
    change_required = False
    require_any: tuple[str, ...] = ()
    # Required keys the view checks itself (to answer an old client's own error codes): their
    # published schema, as the view checks them.
    view_checked: dict[str, dict[str, Any]] = {}

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
