"""Autonomic loops: create, edit (name, type, config), pause/resume, record a decision, delete.
Config edits are checked against the JSON schema of the loop's type.

The old system accepted any config: a loop imported from it keeps keys its type's schema does
not know (``p95TargetMs``). Such kept keys stay accepted in later edits of that loop; a key that
is new and unknown is refused (a typo must not be stored silently)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import ValidationFailed
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Event, Resource
from maestro.write_path.services import Change, service
from orchestration.base import entities
from orchestration.control import schemas
from orchestration.control.models.loops import AutonomicLoop, LoopDecision
from orchestration.control.representations import decision_repr, loop_repr
from orchestration.control.selectors.loops import loop_get

EDITABLE = ("name", "type", "status", "config")
LOOP: entities.Kind[AutonomicLoop] = entities.Kind(
    model=AutonomicLoop, resource=Resource.LOOP, label="Loop", present=loop_repr,
    lookup=lambda tenant, ident, lock: loop_get(tenant=tenant, loop_id=ident, lock=lock),
)


def kept_keys(loop_type: str, config: Any) -> set[str]:
    """The keys of a stored config its type's schema does not know (kept from the old system)."""
    if loop_type not in AutonomicLoop.Type.values or not isinstance(config, dict):
        return set()
    return set(config) - schemas.properties(f"loop_config_{loop_type}")


def loop_config_errors(loop_type: str, config: Any, *, kept: Iterable[str] = ()) -> list[str]:
    """What is wrong with ``config`` for a loop of ``loop_type``; keys in ``kept`` are not
    checked (see the module docstring)."""
    if loop_type not in AutonomicLoop.Type.values:
        return [f"unknown loop type {loop_type!r}"]
    skip = set(kept) - schemas.properties(f"loop_config_{loop_type}")
    if isinstance(config, dict) and skip:
        config = {k: v for k, v in config.items() if k not in skip}
    return schemas.errors(f"loop_config_{loop_type}", config)


def _validate(loop_type: str, status: str, config: Any, *, kept: Iterable[str] = ()) -> None:
    entities.require_choice(loop_type, AutonomicLoop.Type.values, "type")
    entities.require_choice(status, AutonomicLoop.Status.values, "status")
    problems = loop_config_errors(loop_type, config, kept=kept)
    if problems:
        raise ValidationFailed(f"config is invalid for a {loop_type} loop: {problems[0]}",
                               details={"config": problems})


def loop_create(*, tenant: Tenant, actor: Actor, loop_id: str, name: str, type: str,
                status: str = AutonomicLoop.Status.ACTIVE, config: dict[str, Any] | None = None,
                last_decision: str = "", last_run: datetime | None = None,
                action: Action = Action.LOOP_CREATE, keep_unknown_config: bool = False) -> AutonomicLoop:
    """``keep_unknown_config``: the config comes from the old system, which took any keys."""
    config = {} if config is None else config
    _validate(type, status, config, kept=kept_keys(type, config) if keep_unknown_config else ())
    now = timezone.now()
    loop = AutonomicLoop(tenant=tenant, slug=loop_id, name=name, type=type, status=status, config=config,
                         last_decision=last_decision, last_run=last_run, created_at=now, updated_at=now)
    return entities.create(LOOP, loop, tenant=tenant, actor=actor, action=action,
                           details=f"Created loop {loop_id} ({type}, {status})")


def loop_update(*, tenant: Tenant, actor: Actor, loop_id: str, changes: dict[str, Any],
                expected_version: int | None = None) -> AutonomicLoop:
    """Partial edit of name, type, status and config; a config is re-checked against the
    (possibly new) type's schema, keys the loop already kept from the old system allowed.
    Decisions written meanwhile by the loop engine are kept: only the edited columns are
    written."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"Unknown loop field(s): {', '.join(sorted(unknown))}",
                               details={"fields": sorted(unknown)})
    with entities.editing(LOOP, tenant=tenant, actor=actor, ident=loop_id, expected_version=expected_version) as edit:
        loop = edit.obj
        kept = kept_keys(loop.type, loop.config)
        for name, value in changes.items():
            setattr(loop, name, value)
        _validate(loop.type, loop.status, loop.config, kept=kept)
        entities.clean_or_400(loop, exclude=["tenant"])
        edit.save(changes)
        edit.record(entities.updated_details(LOOP, loop_id, changes))
    return loop


def loop_set_status(*, tenant: Tenant, actor: Actor, loop_id: str, status: str,
                    expected_version: int | None = None) -> AutonomicLoop:
    """Pause or resume (the old ``toggleLoop``). An unknown status is refused, never stored."""
    entities.require_choice(status, AutonomicLoop.Status.values, "status")
    with entities.editing(LOOP, tenant=tenant, actor=actor, ident=loop_id, action=Action.LOOP_SET_STATUS,
                          expected_version=expected_version) as edit:
        edit.obj.status = status
        edit.save(["status"])
        edit.record(f"Set loop {loop_id} to {status}")
    return edit.obj


def loop_record_decision(*, tenant: Tenant, actor: Actor, loop_id: str, decision: str,
                         details: dict[str, Any] | None = None, action: str = LoopDecision.NONE,
                         now: datetime | None = None) -> LoopDecision:
    """What a loop tick decided (``decision`` its summary, ``action`` what it did): kept as
    ``lastDecision``/``lastRun``, in the history, the audit log and the ledger, and broadcast as
    ``loop:decision``. Not a config edit, so the loop's ``version`` (which guards operators'
    edits) does not move."""
    if not decision.strip():
        raise ValidationFailed("decision is required")
    now = now or timezone.now()
    change = Change(tenant_id=tenant.pk, actor=actor, action=Action.LOOP_DECISION, resource_type=Resource.LOOP,
                    resource_id=loop_id)
    with service(change):
        loop = loop_get(tenant=tenant, loop_id=loop_id, lock="update")
        row = LoopDecision.objects.create(tenant=tenant, loop=loop, action=action, decision=decision,
                                          details=details or {}, created_at=now)
        loop.last_decision, loop.last_run = decision, now
        loop.save(update_fields=["last_decision", "last_run"])
        # The decision as the history API shows it, with ``decision`` (its summary, as the
        # event's first clients read it) and the loop.
        change.record(details=f"[{action}] {decision}", event=(Event.LOOP_DECISION, {
            **decision_repr(row, loop_id=loop.slug), "decision": decision, "loop": loop_repr(loop)}))
    return row


def loop_delete(*, tenant: Tenant, actor: Actor, loop_id: str, expected_version: int | None = None) -> None:
    entities.delete(LOOP, tenant=tenant, actor=actor, ident=loop_id, expected_version=expected_version)
