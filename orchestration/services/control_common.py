"""Shared by the control-state services (loops, agents, experiments, playbooks, merge trains,
runs): the checks every write makes and the mechanics of a versioned, slug-keyed, per-tenant
config object. Each service keeps its own public functions (names, validation, messages,
audit actions); what they all do the same way (refusals audited, row locked, If-Match
checked, ``version`` moved, ``<type>:created|updated|deleted`` recorded) lives here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import Model
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import Conflict, PreconditionFailed, ValidationFailed
from maestro.write_path import record, service
from orchestration.services.audit import refusals_audited


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


@dataclass(frozen=True)
class ConfigKind:
    """One kind of control-state object. ``resource_type`` is the audit resource type, the
    prefix of audit actions (``loop.update``) and of events (``loop:updated``); ``label`` is
    how messages name it (``Merge train``); ``lock(tenant, slug)`` reads the row FOR UPDATE
    (the kind's selector, so a missing one is its 404)."""

    model: type[Model]
    resource_type: str
    label: str
    present: Callable[[Any], dict[str, Any]]
    lock: Callable[[Any, str], Any]

    @property
    def noun(self) -> str:
        return self.label.lower()

    def exists_error(self, slug: str) -> Conflict:
        return Conflict(f"{self.label} {slug} already exists", details={"id": slug, "policy": "unique_id"})


@contextmanager
def locked_write(kind: ConfigKind, *, tenant: Any, actor: Actor, action: str, slug: str,
                 expected_version: int | None = None) -> Iterator[Any]:
    """One write unit on one object: refusals (412/409) audited as denied, the row locked and
    its version checked against If-Match. The body changes the object and records."""
    with refusals_audited(tenant=tenant, actor=actor, action=action, resource_type=kind.resource_type,
                          resource_id=slug):
        with service():
            obj = kind.lock(tenant, slug)
            check_version(obj, expected_version)
            yield obj


def bump_version(obj: Any, fields: list[str], *, now: datetime | None = None) -> None:
    """Saves ``fields`` and moves ``version`` (what If-Match guards) and ``updated_at``."""
    obj.version += 1
    obj.updated_at = now or timezone.now()
    obj.save(update_fields=[*fields, "version", "updated_at"])


def apply_changes(obj: Any, changes: dict[str, Any], *, check: Callable[[Any], None] | None = None) -> None:
    """Sets the changed fields, lets ``check`` see the result, applies the model's own rules
    and saves only those columns."""
    for field, value in changes.items():
        setattr(obj, field, value)
    if check is not None:
        check(obj)
    clean_or_400(obj, exclude=["tenant"])
    bump_version(obj, [*changes])


def record_change(kind: ConfigKind, obj: Any, *, tenant: Any, actor: Actor, action: str, details: str,
                  verb: str = "updated") -> None:
    record(tenant=tenant, actor=actor, action=action, resource_type=kind.resource_type, resource_id=obj.slug,
           details=details, event=(f"{kind.resource_type}:{verb}", kind.present(obj)))


def updated_details(kind: ConfigKind, slug: str, changes: dict[str, Any]) -> str:
    return f"Updated {kind.noun} {slug}: {', '.join(sorted(changes)) or 'nothing'}"


def config_create(kind: ConfigKind, obj: Any, *, actor: Actor, action: str, details: str | None = None,
                  after_save: Callable[[Any], Any] | None = None) -> Any:
    """Inserts the unsaved ``obj``; an id the tenant already has is a 409 (checked first for a
    clear answer, and again by the unique constraint against a concurrent insert).
    ``after_save`` writes related rows and/or returns the object as the event should show it."""
    tenant, slug = obj.tenant, obj.slug
    with refusals_audited(tenant=tenant, actor=actor, action=action, resource_type=kind.resource_type,
                          resource_id=slug):
        try:
            with service():
                if kind.model._default_manager.filter(tenant=tenant, slug=slug).exists():
                    raise kind.exists_error(slug)
                clean_or_400(obj, exclude=["tenant"])
                obj.save(force_insert=True)
                if after_save is not None:
                    obj = after_save(obj)
                record_change(kind, obj, tenant=tenant, actor=actor, action=action, verb="created",
                              details=details or f"Created {kind.noun} {slug}")
        except IntegrityError:
            raise kind.exists_error(slug) from None
    return obj


def config_update(kind: ConfigKind, *, tenant: Any, actor: Actor, slug: str, changes: dict[str, Any],
                  expected_version: int | None, action: str | None = None,
                  check: Callable[[Any], None] | None = None,
                  details: Callable[[Any], str] | None = None) -> Any:
    """Partial update of the fields in ``changes`` (already validated by the caller)."""
    action = action or f"{kind.resource_type}.update"
    with locked_write(kind, tenant=tenant, actor=actor, action=action, slug=slug,
                      expected_version=expected_version) as obj:
        apply_changes(obj, changes, check=check)
        record_change(kind, obj, tenant=tenant, actor=actor, action=action,
                      details=details(obj) if details else updated_details(kind, obj.slug, changes))
    return obj


def config_delete(kind: ConfigKind, *, tenant: Any, actor: Actor, slug: str,
                  expected_version: int | None) -> None:
    action = f"{kind.resource_type}.delete"
    with locked_write(kind, tenant=tenant, actor=actor, action=action, slug=slug,
                      expected_version=expected_version) as obj:
        obj.delete()
        record(tenant=tenant, actor=actor, action=action, resource_type=kind.resource_type, resource_id=slug,
               details=f"Deleted {kind.noun} {slug}", event=(f"{kind.resource_type}:deleted", {"id": slug}))
