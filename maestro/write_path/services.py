"""The one write path (DESIGN §2).

Every mutation runs inside :func:`service` and records each change once::

    change = Change(tenant_id=tenant.pk, actor=actor, action=Action.TASK_UPDATE,
                    resource_type=Resource.TASK, resource_id=task.id)
    with service(change):
        ...                                   # the domain rows
        change.record(details="Updated title", event=(Event.TASK_UPDATED, task_repr(task)),
                      project_id=task.project_id)

``record`` writes, in the caller's transaction, the AuditEvent row and the ledger intake row,
and buffers the events (``audit:created``, then the change's own). When the outermost
``service`` block ends, the buffered events get their per-tenant sequence numbers in one
``UPDATE … RETURNING`` (the last statement before commit, so the counter row is locked only
until commit) and are inserted in one statement; after commit they are broadcast and the
ledger sequencer is poked. Nothing reaches a client or a queue from a transaction that
rolled back.

**Refusals** (one rule for every entity, docs/decisions.md): a :class:`Refusal` (a stale
If-Match, a lifecycle rule, an id already taken, a project with dependencies, a role) that
leaves the outermost unit rolls the change back, and then a ``denied`` audit row naming the
refusal's policy is written in a transaction of its own, for the change the caller attempted
(the outermost unit's ``change``; else the innermost one the refusal passed through).
Validation errors (400) and missing objects (404) are not recorded: nothing was attempted
against the stored state.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ledger.services import intake_add, sequencer_poke_on_commit
from maestro.core.actors import Actor
from maestro.core.context import current_request_id
from maestro.core.exceptions import PreconditionFailed, Refusal
from maestro.write_path.catalogue import (
    OLD_STREAM_EVENTS,
    Action,
    Event,
    Resource,
    audit_action,
    event_type,
    resource,
)
from maestro.write_path.models import AuditEvent
from maestro.write_path.representations import audit_repr
from realtime.broadcast import AccessChange, broadcast_on_commit
from realtime.services import PendingEvent, events_append


@dataclass(frozen=True)
class Change:
    """A change one unit makes to one resource: who, what, to which. ``record`` writes it;
    a refusal is recorded as its denial."""

    tenant_id: int
    actor: Actor
    action: Action | str
    resource_type: Resource
    resource_id: str = ""

    def record(self, *, details: str = "", event: tuple[Event, Mapping[str, Any]] | None = None,
               project_id: str = "", payload: dict[str, Any] | None = None, action: Action | None = None,
               resource_type: Resource | None = None, resource_id: str | None = None) -> AuditEvent:
        """Records this change; ``action`` / ``resource_*`` name a part of it (a task's subtask)."""
        return record(tenant_id=self.tenant_id, actor=self.actor, action=action or self.action,
                      resource_type=resource_type or self.resource_type,
                      resource_id=self.resource_id if resource_id is None else resource_id,
                      details=details, event=event, project_id=project_id, payload=payload)


@dataclass
class _Unit:
    events: list[PendingEvent] = field(default_factory=list)
    ledger_tenants: set[int] = field(default_factory=set)
    access: list[AccessChange] = field(default_factory=list)

    def pending(self, tenant_id: int, type: str, data: Mapping[str, Any], project_id: str) -> PendingEvent:
        return PendingEvent(tenant_id, type, data, project_id, old_stream=type in OLD_STREAM_EVENTS)


_unit: contextvars.ContextVar[_Unit | None] = contextvars.ContextVar("maestro_write_unit", default=None)


@contextmanager
def service(change: Change | None = None) -> Iterator[None]:
    """``transaction.atomic`` plus the event buffer of the write path and the refusal rule.
    Nestable: only the outermost block sequences, flushes and records a refusal."""
    outer = _unit.get()
    if outer is not None:
        buffered, buffered_access = len(outer.events), len(outer.access)
        try:
            with transaction.atomic():
                yield
        except BaseException as exc:
            # The savepoint rolled back this block's audit rows; its events must go with them
            # even when the caller catches the error and the outer unit commits.
            del outer.events[buffered:]
            del outer.access[buffered_access:]
            if change is not None and isinstance(exc, Refusal) and not hasattr(exc, "maestro_change"):
                exc.maestro_change = change  # type: ignore[attr-defined]  # for the outermost unit to record
            raise
        return
    unit = _Unit()
    token = _unit.set(unit)
    released = False
    try:
        with transaction.atomic():
            try:
                yield
                _flush(unit)
            finally:
                # Released before the atomic block exits: on-commit callbacks (jobs run eagerly
                # in the embedded default) run at that exit and must open units of their own.
                _unit.reset(token)
                released = True
    except Refusal as exc:
        attempted = change or getattr(exc, "maestro_change", None)
        if attempted is not None:
            record_refusal(attempted, exc)
        raise
    finally:
        if not released:
            _unit.reset(token)


def record_refusal(change: Change, exc: Refusal) -> None:
    if transaction.get_connection().needs_rollback:
        return  # inside a caller's transaction that is already broken: it reports the refusal
    with service():
        _record_denial(change, exc)


def refusal_record(exc: Refusal) -> None:
    """Records, in the current unit, the denial of a refusal that a nested unit raised and the
    caller caught and carries on from (the engine runs a transactional action in a savepoint:
    its refusal fails the step, and the denial commits with that failure). A refusal that
    passed through no unit with a change is not recorded, as at the outermost unit."""
    if _unit.get() is None:
        raise RuntimeError("refusal_record() must be called inside write_path.service()")
    change = getattr(exc, "maestro_change", None)
    if change is not None:
        _record_denial(change, exc)


def _record_denial(change: Change, exc: Refusal) -> None:
    details = exc.describe() if isinstance(exc, PreconditionFailed) else exc.message
    record(tenant_id=change.tenant_id, actor=change.actor, action=change.action, resource_type=change.resource_type,
           resource_id=change.resource_id, details=details, status=AuditEvent.Status.DENIED, policy_id=exc.policy)


def record(*, tenant_id: int, actor: Actor, action: Action | str, resource_type: Resource | str, resource_id: str,
           details: str = "", status: str = AuditEvent.Status.ALLOWED, policy_id: str = "",
           event: tuple[Event, Mapping[str, Any]] | None = None, payload: dict[str, Any] | None = None,
           project_id: str = "") -> AuditEvent:
    """Audit + ledger intake now (same transaction), events at the end of the unit.
    ``project_id`` scopes the events for project subscriptions (DESIGN §5)."""
    unit = _unit.get()
    if unit is None:
        raise RuntimeError("record() must be called inside write_path.service()")
    request_id = current_request_id()
    audit = AuditEvent.objects.create(
        tenant_id=tenant_id, actor=actor.name, actor_type=actor.actor_type, action=audit_action(action),
        resource=resource_id, resource_type=resource(resource_type), details=details, status=status,
        policy_id=policy_id, request_id=request_id,
    )
    intake_add(
        tenant_id=tenant_id, action_type=audit.action, resource_type=audit.resource_type, resource_id=resource_id,
        actor_id=actor.name, actor_type=actor.actor_type,
        payload=payload if payload is not None else {"details": details, "status": status,
                                                     "policyId": policy_id, "auditId": audit.id},
        metadata={"requestId": request_id, "auditId": audit.id},
    )
    unit.ledger_tenants.add(tenant_id)
    # The audit event belongs to the change's project, so a project subscription sees it
    # and other projects' subscriptions do not.
    unit.events.append(unit.pending(tenant_id, Event.AUDIT_CREATED, audit_repr(audit), project_id))
    if event is not None:
        unit.events.append(unit.pending(tenant_id, event_type(event[0]), event[1], project_id))
    return audit


def emit(*, tenant_id: int, type: Event, data: Mapping[str, Any], project_id: str = "", at: int | None = None) -> None:
    """An event with no audit row of its own (e.g. the ``task:updated`` that follows a
    ``subtask:created``); ``at``: a position from :func:`events_mark` of this unit."""
    unit = _unit.get()
    if unit is None:
        raise RuntimeError("emit() must be called inside write_path.service()")
    pending = unit.pending(tenant_id, event_type(type), data, project_id)
    if at is None:
        unit.events.append(pending)
    else:
        unit.events.insert(at, pending)


def events_mark() -> int:
    """The position of the current unit's next event; ``emit(at=mark)`` puts an event there,
    ahead of the ones recorded since (a spawn announces itself before the session it made)."""
    unit = _unit.get()
    if unit is None:
        raise RuntimeError("events_mark() must be called inside write_path.service()")
    return len(unit.events)


def access_changed(*, tenant_id: int, user_id: int | None = None, token_id: int | None = None) -> None:
    """This unit takes access away from a user (or from one token) in the tenant. It travels
    in the same broadcast as the unit's events, so each open WebSocket of that credential
    re-checks it before it is sent anything of this commit or of any later one."""
    unit = _unit.get()
    if unit is None:
        raise RuntimeError("access_changed() must be called inside write_path.service()")
    unit.access.append(AccessChange(tenant_id, user_id, token_id))


def record_denied(*, tenant_id: int, actor: Actor, action: Action | str, resource_type: Resource | str,
                  resource_id: str, policy_id: str, details: str = "") -> None:
    """A refused action: its own committed transaction, so the caller may raise afterwards."""
    if _unit.get() is not None:
        # Inside a unit that is about to roll back the denial would vanish with it.
        raise RuntimeError("record_denied() must be called outside write_path.service()")
    with service():
        record(tenant_id=tenant_id, actor=actor, action=action, resource_type=resource_type,
               resource_id=resource_id, details=details, status=AuditEvent.Status.DENIED, policy_id=policy_id)


def announce_checkpoint(tenant_id: int, checkpoint: Mapping[str, Any]) -> None:
    """``ledger:checkpoint`` on the tenant's event log, in the sequencer's transaction (the
    event counter is taken last, so its lock lasts only until that commit)."""
    with service():
        emit(tenant_id=tenant_id, type=Event.LEDGER_CHECKPOINT, data=checkpoint)


def audit_history_add(*, tenant_id: int, legacy_id: str, timestamp: datetime, actor: str, action: str,
                      resource: str, details: str, status: str, policy_id: str) -> AuditEvent:
    """One row of the old system's audit history (``maestro_import``), kept as it was: its own
    id and time, and its action in the old system's words (history, not the catalogue's names).
    The import records itself once, as ``audit.import``."""
    if _unit.get() is None:
        raise RuntimeError("audit_history_add() must be called inside write_path.service()")
    row = AuditEvent.objects.create(tenant_id=tenant_id, legacy_id=legacy_id, actor=actor[:150], action=action[:100],
                                    resource=resource[:200], details=details, status=status,
                                    policy_id=policy_id[:100])
    # The column stamps "now" on insert; an imported row keeps its own time.
    AuditEvent.objects.filter(pk=row.pk).update(timestamp=timestamp)
    row.timestamp = timestamp
    return row


def audit_prune(*, now: datetime | None = None) -> int:
    """Deletes audit rows older than ``MAESTRO_AUDIT_RETENTION_DAYS`` (0: keep all), in
    bounded batches. The ledger keeps its own tamper-evident copy of every row regardless."""
    days = settings.MAESTRO_AUDIT_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(AuditEvent.objects.filter(timestamp__lt=cutoff).order_by("id").values_list("id", flat=True)[:5000])
        if not ids:
            return deleted
        deleted += AuditEvent.objects.filter(id__in=ids).delete()[0]


def _flush(unit: _Unit) -> None:
    by_tenant: dict[int, list[PendingEvent]] = {}
    for pending in unit.events:
        by_tenant.setdefault(pending.tenant_id, []).append(pending)
    stored = []
    for tenant_id, items in by_tenant.items():
        stored.extend(events_append(tenant_id=tenant_id, items=items))
    if stored or unit.access:
        broadcast_on_commit(stored, access=unit.access)
    if unit.ledger_tenants:
        sequencer_poke_on_commit(tenant_ids=sorted(unit.ledger_tenants))
