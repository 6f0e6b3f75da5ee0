"""Autonomic loops: create, edit (name, type, config), pause/resume, record a decision, delete.
Config edits are checked against the JSON schema of the loop's type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import ValidationFailed
from maestro.write_path import record, service
from orchestration import schemas
from orchestration.models import AutonomicLoop, LoopDecision
from orchestration.representations_control import iso, loop_repr
from orchestration.selectors.loops import loop_get
from orchestration.services.control_common import (
    ConfigKind,
    bump_version,
    config_create,
    config_delete,
    config_update,
    locked_write,
    record_change,
    require_choice,
)

EDITABLE = ("name", "type", "status", "config")
LOOP = ConfigKind(model=AutonomicLoop, resource_type="loop", label="Loop", present=loop_repr,
                  lock=lambda tenant, slug: loop_get(tenant=tenant, loop_id=slug, for_update=True))


def loop_config_errors(loop_type: str, config: Any) -> list[str]:
    if loop_type not in AutonomicLoop.Type.values:
        return [f"unknown loop type {loop_type!r}"]
    return schemas.errors(f"loop_config_{loop_type}", config)


def _validate(loop_type: str, status: str, config: Any) -> None:
    require_choice(loop_type, AutonomicLoop.Type.values, "type")
    require_choice(status, AutonomicLoop.Status.values, "status")
    problems = loop_config_errors(loop_type, config)
    if problems:
        raise ValidationFailed(f"config is invalid for a {loop_type} loop: {problems[0]}",
                               details={"config": problems})


def loop_create(*, tenant: Any, actor: Actor, loop_id: str, name: str, type: str,
                status: str = AutonomicLoop.Status.ACTIVE, config: dict[str, Any] | None = None,
                last_decision: str = "", last_run: datetime | None = None,
                action: str = "loop.create") -> AutonomicLoop:
    config = {} if config is None else config
    _validate(type, status, config)
    now = timezone.now()
    loop = AutonomicLoop(tenant=tenant, slug=loop_id, name=name, type=type, status=status, config=config,
                         last_decision=last_decision, last_run=last_run, created_at=now, updated_at=now)
    return config_create(LOOP, loop, actor=actor, action=action, details=f"Created loop {loop_id} ({type}, {status})")


def loop_update(*, tenant: Any, actor: Actor, loop_id: str, changes: dict[str, Any],
                expected_version: int | None = None) -> AutonomicLoop:
    """Partial edit of name, type, status and config; a config is re-checked against the
    (possibly new) type's schema. Decisions written meanwhile by the loop engine are kept:
    only the edited columns are written."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"Unknown loop field(s): {', '.join(sorted(unknown))}",
                               details={"fields": sorted(unknown)})
    return config_update(LOOP, tenant=tenant, actor=actor, slug=loop_id, changes=changes,
                         expected_version=expected_version,
                         check=lambda loop: _validate(loop.type, loop.status, loop.config))


def loop_set_status(*, tenant: Any, actor: Actor, loop_id: str, status: str,
                    expected_version: int | None = None) -> AutonomicLoop:
    """Pause or resume (the old ``toggleLoop``). An unknown status is refused, never stored."""
    require_choice(status, AutonomicLoop.Status.values, "status")
    with locked_write(LOOP, tenant=tenant, actor=actor, action="loop.set_status", slug=loop_id,
                      expected_version=expected_version) as loop:
        loop.status = status
        bump_version(loop, ["status"])
        record_change(LOOP, loop, tenant=tenant, actor=actor, action="loop.set_status",
                      details=f"Set loop {loop.slug} to {status}")
    return loop


def loop_record_decision(*, tenant: Any, actor: Actor, loop_id: str, decision: str,
                         details: dict[str, Any] | None = None) -> LoopDecision:
    """What a loop tick decided: kept as ``lastDecision``/``lastRun``, in the history, the audit
    log and the ledger, and broadcast as ``loop:decision``. Not a config edit, so the loop's
    ``version`` (which guards operators' edits) does not move."""
    if not decision.strip():
        raise ValidationFailed("decision is required")
    now = timezone.now()
    with service():
        loop = loop_get(tenant=tenant, loop_id=loop_id, for_update=True)
        row = LoopDecision.objects.create(tenant=tenant, loop=loop, decision=decision, details=details or {},
                                          created_at=now)
        loop.last_decision, loop.last_run = decision, now
        loop.save(update_fields=["last_decision", "last_run"])
        record(tenant=tenant, actor=actor, action="loop.decision", resource_type="loop", resource_id=loop.slug,
               details=decision, event=("loop:decision", {"id": row.id, "loopId": loop.slug, "decision": decision,
                                                          "details": row.details, "timestamp": iso(now),
                                                          "loop": loop_repr(loop)}))
    return row


def loop_delete(*, tenant: Any, actor: Actor, loop_id: str, expected_version: int | None = None) -> None:
    config_delete(LOOP, tenant=tenant, actor=actor, slug=loop_id, expected_version=expected_version)
