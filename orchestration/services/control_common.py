"""Small helpers shared by the control-state services (loops, agents, experiments, playbooks,
merge trains, runs)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError

from maestro.exceptions import PreconditionFailed, ValidationFailed


def check_version(obj: Any, expected_version: int | None) -> None:
    """If-Match: a write based on a version other than the current one is refused (412)."""
    if expected_version is not None and obj.version != expected_version:
        raise PreconditionFailed(details={"currentVersion": obj.version, "expectedVersion": expected_version})


def clean_or_400(obj: Any, *, exclude: list[str] | None = None) -> None:
    """``full_clean`` with the model's rules (choices, check constraints, uniqueness) turned into
    the API's 400, so the admin, jobs and the API refuse the same things the same way."""
    try:
        obj.full_clean(exclude=exclude)
    except DjangoValidationError as exc:
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        first_field, messages = next(iter(fields.items()))
        prefix = "" if first_field == "__all__" else f"{first_field}: "
        raise ValidationFailed(f"{prefix}{messages[0]}", details={"fields": fields}) from None


def require_choice(value: Any, choices: list[str], field: str) -> None:
    if value not in choices:
        raise ValidationFailed(f"{field} must be one of {', '.join(choices)}",
                               details={"field": field, "value": value, "allowed": choices})
