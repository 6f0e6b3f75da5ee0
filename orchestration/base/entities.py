"""One mechanism for creating, updating and deleting every entity of the domain — projects,
tasks, subtasks, sessions, loops, agents, experiments, playbooks, merge trains, runs.

A :class:`Kind` says how to find one (its selector, which raises the kind's 404), how the API
shows it; the audit actions and events its changes are recorded under come from the catalogue
(``task.create`` … ``task:deleted``). Then:

- :func:`create` inserts a new one: model rules checked (400), an id the tenant already has
  refused (409), the ``*:created`` event;
- :func:`editing` opens one write unit on an existing one: the row locked, its ``version``
  checked against If-Match (412) when the kind is versioned; the caller changes it and calls
  :meth:`Edit.save` and :meth:`Edit.record`; :func:`update` and :func:`delete` are the plain
  cases.

Every unit is a :func:`maestro.write_path.services.service` with the change it attempts, so the
one refusal rule applies to all of them alike: a :class:`~maestro.core.exceptions.Refusal`
(412, 409, a lifecycle rule) rolls the change back and is recorded as a ``denied`` audit row
naming its policy; validation errors (400) and missing objects (404) are not recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import Conflict, PreconditionFailed, ValidationFailed
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Event, Lifecycle, Resource, lifecycle
from maestro.write_path.services import Change, service
from orchestration.base.selectors import Lock

M = TypeVar("M", bound=Model)

UNIQUE_ID = "unique_id"


def _unscoped(obj: Any) -> str:
    return ""


@dataclass(frozen=True)
class Kind(Generic[M]):
    """One kind of entity. ``lookup(tenant, ident, lock)`` is its ``*_get`` selector;
    ``present`` its API shape (also the payload of its events); ``scope`` the project an
    object belongs to (project subscriptions see its events); ``ident`` how clients name an
    object (its ``slug`` for control state, its ``id`` for work items)."""

    model: type[M]
    resource: Resource
    label: str
    lookup: Callable[[Tenant, str, Lock], M]
    present: Callable[[M], Mapping[str, Any]]
    versioned: bool = True
    scope: Callable[[M], str] = field(default=_unscoped)
    ident: str = "slug"
    update_action: Action | None = None  # audit updates under this action, not <resource>.update
    # Its events and audit actions, from the catalogue (maestro.write_path.catalogue.lifecycle).
    lifecycle: Lifecycle = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lifecycle", lifecycle(self.resource, update=self.update_action))

    @property
    def update(self) -> Action:
        return self.lifecycle.update

    def fresh(self, obj: M) -> Mapping[str, Any]:
        """``obj`` as the API shows it now: read again, so relations a change touched are current."""
        tenant: Tenant = getattr(obj, "tenant")  # noqa: B009 — every entity belongs to a tenant
        return self.present(self.lookup(tenant, self.ident_of(obj), None))

    @property
    def noun(self) -> str:
        return self.label.lower()

    def ident_of(self, obj: M) -> str:
        return str(getattr(obj, self.ident))

    def change(self, *, tenant: Tenant, actor: Actor, action: Action, ident: str) -> Change:
        return Change(tenant_id=tenant.pk, actor=actor, action=action, resource_type=self.resource,
                      resource_id=ident)

    def exists_error(self, ident: str) -> Conflict:
        return Conflict(f"{self.label} {ident} already exists", details={"id": ident, "policy": UNIQUE_ID})


def check_version(obj: Any, expected_version: int | None) -> None:
    """If-Match: a write based on a version other than the current one is refused (412)."""
    if expected_version is not None and obj.version != expected_version:
        raise PreconditionFailed(details={"currentVersion": obj.version, "expectedVersion": expected_version})


def clean_or_400(obj: Model, *, exclude: list[str] | None = None, validate_unique: bool = True) -> None:
    """``full_clean`` with the model's rules (choices, check constraints, uniqueness) turned into
    the API's 400, so the admin, jobs and the API refuse the same things the same way."""
    try:
        obj.full_clean(exclude=exclude, validate_unique=validate_unique)
    except DjangoValidationError as exc:
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        first_field, messages = next(iter(fields.items()))
        prefix = "" if first_field == "__all__" else f"{first_field}: "
        raise ValidationFailed(f"{prefix}{messages[0]}", details={"fields": fields}) from None


def require_choice(value: Any, choices: list[str], field: str) -> None:
    if value not in choices:
        raise ValidationFailed(f"{field} must be one of {', '.join(choices)}",
                               details={"field": field, "value": value, "allowed": choices})


class _Versioned(Protocol):
    """The entity of a versioned kind."""

    version: int


@dataclass
class Edit(Generic[M]):
    """The object a unit opened by :func:`editing` changes."""

    kind: Kind[M]
    obj: M
    change: Change

    def save(self, fields: Iterable[str], *, now: datetime | None = None, stamp: str = "updated_at") -> None:
        """Saves ``fields`` and the time of the change in ``stamp`` (``updated_at``; a session's
        ``last_activity``); a versioned kind's ``version`` moves (what If-Match guards)."""
        columns = [*fields, stamp]
        if self.kind.versioned:
            cast(_Versioned, self.obj).version += 1
            columns.append("version")
        setattr(self.obj, stamp, now or timezone.now())
        self.obj.save(update_fields=list(dict.fromkeys(columns)))

    def record(self, details: str, *, event: tuple[Event, Mapping[str, Any]] | None = None,
               action: Action | None = None) -> None:
        """The audit row, ledger intake and event of this change; the event defaults to the
        kind's ``*:updated`` with the object as the API shows it."""
        self.change.record(details=details, action=action,
                           event=event or (self.kind.lifecycle.updated, self.kind.present(self.obj)),
                           project_id=self.kind.scope(self.obj))


@contextmanager
def editing(kind: Kind[M], *, tenant: Tenant, actor: Actor, ident: str, action: Action | None = None,
            expected_version: int | None = None, lock: Lock = "update") -> Iterator[Edit[M]]:
    """One write unit on one existing object: found (404) and row-locked, its version checked
    against If-Match (412) when the kind is versioned, refusals recorded."""
    change = kind.change(tenant=tenant, actor=actor, action=action or kind.update, ident=ident)
    with service(change):
        obj = kind.lookup(tenant, ident, lock)
        if kind.versioned:
            check_version(obj, expected_version)
        yield Edit(kind, obj, change)


def create(kind: Kind[M], obj: M, *, tenant: Tenant, actor: Actor, details: str, action: Action | None = None,
           exclude: list[str] | None = None, prepare: Callable[[M], None] | None = None,
           after_save: Callable[[M], M] | None = None, shown: Callable[[M], Mapping[str, Any]] | None = None,
           check_exists: bool | None = None) -> M:
    """Inserts the unsaved ``obj`` in one write unit. ``prepare`` runs first (locks what the
    row references, checks that need the database); an id already taken is a 409 (looked up
    first for a clear answer when the client chose it — ``check_exists``, by default for slugs —
    and caught from the unique constraint when a concurrent insert won). ``after_save`` writes
    related rows and returns the object as the caller gets it; the ``*:created`` event shows
    ``shown(obj)`` (default: the kind's API shape)."""
    ident = kind.ident_of(obj)
    change = kind.change(tenant=tenant, actor=actor, action=action or kind.lifecycle.create, ident=ident)
    with service(change):
        if prepare is not None:
            prepare(obj)
        if kind.ident == "slug" if check_exists is None else check_exists:
            # Only the tenant's own objects: a 409 for another tenant's id would tell the caller
            # that it exists there.
            if kind.model._default_manager.filter(tenant=tenant, **{kind.ident: ident}).exists():
                raise kind.exists_error(ident)
        clean_or_400(obj, exclude=exclude if exclude is not None else ["tenant"], validate_unique=False)
        try:
            with transaction.atomic():
                obj.save(force_insert=True)
        except IntegrityError:
            raise kind.exists_error(ident) from None
        if after_save is not None:
            obj = after_save(obj)
        change.record(details=details, event=(kind.lifecycle.created, (shown or kind.present)(obj)),
                      project_id=kind.scope(obj))
    return obj


def update(kind: Kind[M], *, tenant: Tenant, actor: Actor, ident: str, changes: dict[str, Any],
           expected_version: int | None = None, action: Action | None = None,
           check: Callable[[M], None] | None = None, details: Callable[[M], str] | None = None) -> M:
    """Partial update of the fields in ``changes`` (validated by the caller; ``check`` sees the
    result before the model's own rules do)."""
    with editing(kind, tenant=tenant, actor=actor, ident=ident, action=action,
                 expected_version=expected_version) as edit:
        for name, value in changes.items():
            setattr(edit.obj, name, value)
        if check is not None:
            check(edit.obj)
        clean_or_400(edit.obj, exclude=["tenant"])
        edit.save(changes)
        edit.record(details(edit.obj) if details else updated_details(kind, ident, changes))
    return edit.obj


def delete(kind: Kind[M], *, tenant: Tenant, actor: Actor, ident: str, expected_version: int | None = None,
           guard: Callable[[M], None] | None = None, details: Callable[[M], str] | None = None) -> None:
    """Deletes the object; ``guard`` may refuse (a Refusal, recorded as denied)."""
    deleted, action = kind.lifecycle.deleted, kind.lifecycle.delete
    if deleted is None or action is None:
        raise TypeError(f"{kind.label} objects are never deleted")
    with editing(kind, tenant=tenant, actor=actor, ident=ident, action=action,
                 expected_version=expected_version) as edit:
        if guard is not None:
            guard(edit.obj)
        scope = kind.scope(edit.obj)
        text = details(edit.obj) if details else f"Deleted {kind.noun} {ident}"
        edit.obj.delete()
        edit.change.record(details=text, event=(deleted, {"id": ident}), project_id=scope)


def updated_details(kind: Kind[Any], ident: str, changes: Iterable[str]) -> str:
    return f"Updated {kind.noun} {ident}: {', '.join(sorted(changes)) or 'nothing'}"
