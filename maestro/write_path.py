"""The one write path (DESIGN §2).

Every mutation runs inside :func:`service` and calls :func:`record` once per change::

    with service():
        task = Task.objects.create(...)
        record(tenant=..., actor=..., action="task.create", resource_type="task",
               resource_id=task.id, event=("task:created", task_payload))

``record`` writes, in the caller's transaction, the AuditEvent row and the ledger intake row,
and buffers the realtime event. When the outermost ``service`` block ends, the buffered events
get their per-tenant sequence numbers in one ``UPDATE … RETURNING`` (the last statement before
commit, so the counter row is locked only until commit) and are inserted in one statement;
after commit they are broadcast and the ledger sequencer is poked. Nothing reaches a client
or a queue from a transaction that rolled back.

Refused actions are recorded by :func:`record_denied` in a transaction of their own, so the
denial survives the error the caller is about to raise.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from maestro.core.actors import Actor
from maestro.core.context import current_request_id


@dataclass
class _Unit:
    # (tenant, type, data, project id for subscription filtering)
    events: list[tuple[Any, str, dict[str, Any], str]] = field(default_factory=list)
    ledger_tenants: set[int] = field(default_factory=set)


_unit: contextvars.ContextVar[_Unit | None] = contextvars.ContextVar("maestro_write_unit", default=None)


@contextmanager
def service() -> Iterator[None]:
    """``transaction.atomic`` plus the event buffer of the write path. Nestable: only the
    outermost block sequences and flushes."""
    outer = _unit.get()
    if outer is not None:
        buffered = len(outer.events)
        try:
            with transaction.atomic():
                yield
        except BaseException:
            # The savepoint rolled back this block's audit rows; its events must go with them
            # even when the caller catches the error and the outer unit commits.
            del outer.events[buffered:]
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
    finally:
        if not released:
            _unit.reset(token)


def record(
    *,
    tenant: Any,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str,
    details: str = "",
    status: str = "allowed",
    policy_id: str = "",
    event: tuple[str, dict[str, Any]] | None = None,
    payload: dict[str, Any] | None = None,
    project_id: str = "",
) -> None:
    """Audit + ledger intake now (same transaction), event at the end of the unit."""
    from ledger.services import intake_add
    from orchestration.models import AuditEvent

    unit = _unit.get()
    if unit is None:
        raise RuntimeError("record() must be called inside write_path.service()")
    request_id = current_request_id()
    audit = AuditEvent.objects.create(
        tenant=tenant, actor=actor.name, actor_type=actor.actor_type, action=action,
        resource=resource_id, resource_type=resource_type, details=details, status=status,
        policy_id=policy_id, request_id=request_id,
    )
    intake_add(
        tenant=tenant, action_type=action, resource_type=resource_type, resource_id=resource_id,
        actor_id=actor.name, actor_type=actor.actor_type,
        payload=payload if payload is not None else {"details": details, "status": status,
                                                     "policyId": policy_id, "auditId": audit.id},
        metadata={"requestId": request_id, "auditId": audit.id},
    )
    unit.ledger_tenants.add(tenant.pk)
    # The audit event belongs to the change's project, so a project subscription sees it
    # and other projects' subscriptions do not.
    event_project = project_id or (_project_of(event[0], event[1]) if event is not None else "")
    unit.events.append((tenant, "audit:created", audit.to_api(), event_project))
    if event is not None:
        unit.events.append((tenant, event[0], event[1], event_project))


def emit(*, tenant: Any, type: str, data: dict[str, Any], project_id: str = "") -> None:
    """An event with no audit row of its own (e.g. the ``task:updated`` that follows a
    ``subtask:created``)."""
    unit = _unit.get()
    if unit is None:
        raise RuntimeError("emit() must be called inside write_path.service()")
    unit.events.append((tenant, type, data, project_id or _project_of(type, data)))


def record_denied(*, tenant: Any, actor: Actor, action: str, resource_type: str, resource_id: str,
                  policy_id: str, details: str = "") -> None:
    """A refused action: its own committed transaction, so the caller may raise afterwards."""
    if _unit.get() is not None:
        # Inside a unit that is about to roll back the denial would vanish with it.
        raise RuntimeError("record_denied() must be called outside write_path.service()")
    with service():
        record(tenant=tenant, actor=actor, action=action, resource_type=resource_type,
               resource_id=resource_id, details=details, status="denied", policy_id=policy_id)


def _flush(unit: _Unit) -> None:
    from realtime.broadcast import broadcast_on_commit
    from realtime.services import events_append

    by_tenant: dict[int, tuple[Any, list[tuple[str, dict[str, Any], str]]]] = {}
    for tenant, type_, data, project_id in unit.events:
        by_tenant.setdefault(tenant.pk, (tenant, []))[1].append((type_, data, project_id))
    stored = []
    for tenant, items in by_tenant.values():
        stored.extend(events_append(tenant=tenant, items=items))
    if stored:
        broadcast_on_commit(stored)
    if unit.ledger_tenants:
        from ledger.services import sequencer_poke_on_commit

        sequencer_poke_on_commit(tenant_ids=sorted(unit.ledger_tenants))


def _project_of(type_: str, data: dict[str, Any]) -> str:
    if type_.startswith("project:"):
        return str(data.get("id", ""))
    return str(data.get("projectId") or "")
