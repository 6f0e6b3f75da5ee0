"""Query parameters of a list, validated by a django-filter FilterSet into the one error shape:
each list declares its FilterSet; a bad value is a 400 naming the parameter."""

from __future__ import annotations

from typing import Any, TypeVar

import django_filters
from django.db.models import Model, QuerySet
from rest_framework.request import Request

from maestro.core.exceptions import ValidationFailed

M = TypeVar("M", bound=Model)


class FilterSet(django_filters.FilterSet):
    """A list's query parameters. Parameters a FilterSet does not declare are left alone (the
    toolkit's ``limit``/``cursor``), as the old clients send extra ones."""


def filtered(filterset_class: type[FilterSet], request: Request, queryset: QuerySet[M]) -> QuerySet[M]:
    filterset = filterset_class(request.query_params, queryset=queryset, request=request)
    if not filterset.is_valid():
        errors: dict[str, Any] = {name: [str(m) for m in messages] for name, messages in filterset.errors.items()}
        name, messages = next(iter(errors.items()))
        raise ValidationFailed(messages[0] if messages[0].startswith(name) else f"{name}: {messages[0]}",
                               details={"fields": errors})
    result: QuerySet[M] = filterset.qs
    return result


class ChoiceParameter(django_filters.CharFilter):
    """One of ``choices`` (``aliases`` map old spellings onto them); anything else is a 400
    ``Unknown <name> '<value>'``."""

    def __init__(self, *args: Any, choices: list[str], aliases: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choices, self.aliases = choices, aliases or {}

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if value in (None, ""):
            return qs
        value = self.aliases.get(value, value)
        if value not in self.choices:
            raise ValidationFailed(f"Unknown {self.field_name} {value!r}", details={str(self.field_name): value})
        return super().filter(qs, value)
