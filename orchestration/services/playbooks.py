"""Playbooks: remediation recipes that loops trigger. Create, edit, enable/disable, delete."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from maestro.actors import Actor
from maestro.exceptions import Conflict, ValidationFailed
from maestro.write_path import record, service
from orchestration.models import Playbook
from orchestration.representations_control import playbook_repr
from orchestration.selectors.playbooks import playbook_get
from orchestration.services.audit import refusals_audited
from orchestration.services.control_common import check_version, clean_or_400

EDITABLE = ("name", "description", "triggers", "actions", "is_enabled")
MAX_ITEMS = 100


def _validate(values: dict[str, Any]) -> None:
    if "name" in values and (not isinstance(values["name"], str) or not values["name"].strip()):
        raise ValidationFailed("name is required", details={"field": "name"})
    for field in ("triggers", "actions"):
        if field not in values:
            continue
        items = values[field]
        if (not isinstance(items, list) or len(items) > MAX_ITEMS
                or not all(isinstance(i, str) and i.strip() and len(i) <= 200 for i in items)):
            raise ValidationFailed(f"{field} must be a list of up to {MAX_ITEMS} non-empty strings",
                                   details={"field": field})
    if "is_enabled" in values and not isinstance(values["is_enabled"], bool):
        raise ValidationFailed("isEnabled must be a boolean", details={"field": "is_enabled"})


def playbook_create(*, tenant: Any, actor: Actor, name: str, playbook_id: str | None = None, description: str = "",
                    triggers: list[str] | None = None, actions: list[str] | None = None, is_enabled: bool = False,
                    action: str = "playbook.create") -> Playbook:
    values = {"name": name, "description": description, "triggers": triggers or [], "actions": actions or [],
              "is_enabled": is_enabled}
    _validate(values)
    values["name"] = name.strip()
    playbook_id = playbook_id or f"pb-{secrets.token_hex(4)}"
    now = timezone.now()
    with refusals_audited(tenant=tenant, actor=actor, action=action, resource_type="playbook",
                          resource_id=playbook_id):
        try:
            with service():
                if Playbook.objects.filter(tenant=tenant, slug=playbook_id).exists():
                    raise Conflict(f"Playbook {playbook_id} already exists",
                                   details={"id": playbook_id, "policy": "unique_id"})
                playbook = Playbook(tenant=tenant, slug=playbook_id, created_at=now, updated_at=now, **values)
                clean_or_400(playbook, exclude=["tenant"])
                playbook.save(force_insert=True)
                record(tenant=tenant, actor=actor, action=action, resource_type="playbook", resource_id=playbook.slug,
                       details=f"Created playbook {playbook.name}", event=("playbook:created", playbook_repr(playbook)))
        except IntegrityError:
            raise Conflict(f"Playbook {playbook_id} already exists",
                           details={"id": playbook_id, "policy": "unique_id"}) from None
    return playbook


def playbook_update(*, tenant: Any, actor: Actor, playbook_id: str, changes: dict[str, Any],
                    expected_version: int | None = None, action: str = "playbook.update") -> Playbook:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"Unknown playbook field(s): {', '.join(sorted(unknown))}")
    _validate(changes)
    if "name" in changes:
        changes = {**changes, "name": changes["name"].strip()}
    with refusals_audited(tenant=tenant, actor=actor, action=action, resource_type="playbook",
                          resource_id=playbook_id):
        with service():
            playbook = playbook_get(tenant=tenant, playbook_id=playbook_id, for_update=True)
            check_version(playbook, expected_version)
            for field, value in changes.items():
                setattr(playbook, field, value)
            clean_or_400(playbook, exclude=["tenant"])
            playbook.version += 1
            playbook.updated_at = timezone.now()
            playbook.save(update_fields=[*changes, "version", "updated_at"])
            if set(changes) == {"is_enabled"}:
                details = f"{'Enabled' if playbook.is_enabled else 'Disabled'} playbook {playbook.slug}"
            else:
                details = f"Updated playbook {playbook.slug}: {', '.join(sorted(changes)) or 'nothing'}"
            record(tenant=tenant, actor=actor, action=action, resource_type="playbook", resource_id=playbook.slug,
                   details=details, event=("playbook:updated", playbook_repr(playbook)))
    return playbook


def playbook_set_enabled(*, tenant: Any, actor: Actor, playbook_id: str, enabled: bool,
                         expected_version: int | None = None) -> Playbook:
    return playbook_update(tenant=tenant, actor=actor, playbook_id=playbook_id, changes={"is_enabled": enabled},
                           expected_version=expected_version,
                           action="playbook.enable" if enabled else "playbook.disable")


def playbook_delete(*, tenant: Any, actor: Actor, playbook_id: str, expected_version: int | None = None) -> None:
    with refusals_audited(tenant=tenant, actor=actor, action="playbook.delete", resource_type="playbook",
                          resource_id=playbook_id):
        with service():
            playbook = playbook_get(tenant=tenant, playbook_id=playbook_id, for_update=True)
            check_version(playbook, expected_version)
            playbook.delete()
            record(tenant=tenant, actor=actor, action="playbook.delete", resource_type="playbook",
                   resource_id=playbook_id, details=f"Deleted playbook {playbook_id}",
                   event=("playbook:deleted", {"id": playbook_id}))
