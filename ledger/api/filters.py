"""Query parameters of the ledger's lists (DESIGN §6)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet

from ledger.models import LedgerEntry
from maestro.api.filters import FilterSet
from maestro.core.exceptions import ValidationFailed


class SequenceNumber(django_filters.CharFilter):
    """An integer of at least ``minimum``; anything else is a 400 naming the parameter."""

    def __init__(self, *args: Any, minimum: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.minimum = minimum

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if value in (None, ""):
            return qs
        name = str(self.label)
        if not (value.isascii() and value.lstrip("-").isdigit()):
            raise ValidationFailed(f"{name} must be an integer", details={name: value})
        number = int(value)
        if number < self.minimum:
            raise ValidationFailed(f"{name} must be at least {self.minimum}", details={name: number})
        return super().filter(qs, number)


class EntryFilter(FilterSet):
    fromSequence = SequenceNumber(field_name="sequence_number", lookup_expr="gte", label="fromSequence")
    toSequence = SequenceNumber(field_name="sequence_number", lookup_expr="lte", label="toSequence")
    actionType = django_filters.CharFilter(field_name="action_type")
    resourceType = django_filters.CharFilter(field_name="resource_type")
    resourceId = django_filters.CharFilter(field_name="resource_id")
    actorId = django_filters.CharFilter(field_name="actor_id")

    class Meta:
        model = LedgerEntry
        fields: list[str] = []
