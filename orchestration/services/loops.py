"""Autonomic loops: create, edit (name, type, config), pause/resume, record a decision, delete.
Config edits are checked against the JSON schema of the loop's type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from maestro.actors import Actor
from maestro.exceptions import Conflict, ValidationFailed
from maestro.write_path import record, service
from orchestration import schemas
from orchestration.models import AutonomicLoop, LoopDecision
from orchestration.representations_control import iso, loop_repr
from orchestration.selectors.loops import loop_get
from orchestration.services.audit import refusals_audited
from orchestration.services.control_common import check_version, clean_or_400, require_choice

EDITABLE = ("name", "type", "status", "config")


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
    with refusals_audited(tenant=tenant, actor=actor, action=action, resource_type="loop", resource_id=loop_id):
        try:
            with service():
                if AutonomicLoop.objects.filter(tenant=tenant, slug=loop_id).exists():
                    raise Conflict(f"Loop {loop_id} already exists", details={"id": loop_id, "policy": "unique_id"})
                loop = AutonomicLoop(tenant=tenant, slug=loop_id, name=name, type=type, status=status, config=config,
                                     last_decision=last_decision, last_run=last_run, created_at=now, updated_at=now)
                clean_or_400(loop, exclude=["tenant"])
                loop.save(force_insert=True)
                record(tenant=tenant, actor=actor, action=action, resource_type="loop", resource_id=loop.slug,
                       details=f"Created loop {loop.slug} ({type}, {status})", event=("loop:created", loop_repr(loop)))
        except IntegrityError:
            raise Conflict(f"Loop {loop_id} already exists", details={"id": loop_id, "policy": "unique_id"}) from None
    return loop


def loop_update(*, tenant: Any, actor: Actor, loop_id: str, changes: dict[str, Any],
                expected_version: int | None = None) -> AutonomicLoop:
    """Partial edit of name, type, status and config; a config is re-checked against the
    (possibly new) type's schema. Decisions written meanwhile by the loop engine are kept:
    only the edited columns are written."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"Unknown loop field(s): {', '.join(sorted(unknown))}",
                               details={"fields": sorted(unknown)})
    with refusals_audited(tenant=tenant, actor=actor, action="loop.update", resource_type="loop", resource_id=loop_id):
        with service():
            loop = loop_get(tenant=tenant, loop_id=loop_id, for_update=True)
            check_version(loop, expected_version)
            for field in EDITABLE:
                if field in changes:
                    setattr(loop, field, changes[field])
            _validate(loop.type, loop.status, loop.config)
            clean_or_400(loop, exclude=["tenant"])
            loop.version += 1
            loop.updated_at = timezone.now()
            loop.save(update_fields=[*EDITABLE, "version", "updated_at"])
            record(tenant=tenant, actor=actor, action="loop.update", resource_type="loop", resource_id=loop.slug,
                   details=f"Updated loop {loop.slug}: {', '.join(sorted(changes)) or 'nothing'}",
                   event=("loop:updated", loop_repr(loop)))
    return loop


def loop_set_status(*, tenant: Any, actor: Actor, loop_id: str, status: str,
                    expected_version: int | None = None) -> AutonomicLoop:
    """Pause or resume (the old ``toggleLoop``). An unknown status is refused, never stored."""
    require_choice(status, AutonomicLoop.Status.values, "status")
    with refusals_audited(tenant=tenant, actor=actor, action="loop.set_status", resource_type="loop",
                          resource_id=loop_id):
        with service():
            loop = loop_get(tenant=tenant, loop_id=loop_id, for_update=True)
            check_version(loop, expected_version)
            loop.status = status
            loop.version += 1
            loop.updated_at = timezone.now()
            loop.save(update_fields=["status", "version", "updated_at"])
            record(tenant=tenant, actor=actor, action="loop.set_status", resource_type="loop", resource_id=loop.slug,
                   details=f"Set loop {loop.slug} to {status}", event=("loop:updated", loop_repr(loop)))
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
    with refusals_audited(tenant=tenant, actor=actor, action="loop.delete", resource_type="loop", resource_id=loop_id):
        with service():
            loop = loop_get(tenant=tenant, loop_id=loop_id, for_update=True)
            check_version(loop, expected_version)
            loop.delete()
            record(tenant=tenant, actor=actor, action="loop.delete", resource_type="loop", resource_id=loop_id,
                   details=f"Deleted loop {loop_id}", event=("loop:deleted", {"id": loop_id}))
