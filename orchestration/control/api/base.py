"""What the ``/api/maestro/`` views share: the OpenAPI decorator, If-Match (or a body
``version``) for writes, and answers that carry the object's ETag."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from maestro.api.paging import CREATED
from maestro.api.views import MaestroAPIView
from maestro.core.exceptions import ValidationFailed


def _same_id(request: Request, url_id: str) -> None:
    body_id = request.data.get("id") if isinstance(request.data, dict) else None
    if body_id is not None and body_id != url_id:
        raise ValidationFailed("id cannot be changed", details={"id": body_id, "expected": url_id})


# A view of one kind of versioned control-state object, listed oldest first (the old
# MaestroService's order). No class docstring: drf-spectacular would publish it.
class ControlView(MaestroAPIView):
    order = CREATED

    def patch_input(self, serializer_class: type[serializers.Serializer[Any]], url_id: str, *,
                    flatten: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                    ) -> tuple[dict[str, Any], int | None]:
        """A PATCH body → (the changes, the version they were based on). The body may not rename
        the object, and an edit that changes nothing is a 400."""
        data = self.validated(serializer_class, partial=True)
        version = self.expected_version(data)
        _same_id(self.request, url_id)
        changes = flatten(data) if flatten else data
        if not changes:
            raise ValidationFailed("Nothing to update")
        return changes, version
