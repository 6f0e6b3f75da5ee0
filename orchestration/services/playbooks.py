"""Playbooks: remediation recipes that loops trigger. Create, edit, enable/disable, delete."""

from __future__ import annotations

import secrets
from typing import Any

from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import ValidationFailed
from orchestration.models import Playbook
from orchestration.representations_control import playbook_repr
from orchestration.selectors.playbooks import playbook_get
from orchestration.services.control_common import (
    ConfigKind,
    config_create,
    config_delete,
    config_update,
    updated_details,
)

EDITABLE = ("name", "description", "triggers", "actions", "is_enabled")
MAX_ITEMS = 100
PLAYBOOK = ConfigKind(model=Playbook, resource_type="playbook", label="Playbook", present=playbook_repr,
                      lock=lambda tenant, slug: playbook_get(tenant=tenant, playbook_id=slug, for_update=True))


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
    playbook = Playbook(tenant=tenant, slug=playbook_id, created_at=now, updated_at=now, **values)
    return config_create(PLAYBOOK, playbook, actor=actor, action=action, details=f"Created playbook {playbook.name}")


def playbook_update(*, tenant: Any, actor: Actor, playbook_id: str, changes: dict[str, Any],
                    expected_version: int | None = None, action: str = "playbook.update") -> Playbook:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"Unknown playbook field(s): {', '.join(sorted(unknown))}")
    _validate(changes)
    if "name" in changes:
        changes = {**changes, "name": changes["name"].strip()}

    def details(playbook: Playbook) -> str:
        if set(changes) == {"is_enabled"}:
            return f"{'Enabled' if playbook.is_enabled else 'Disabled'} playbook {playbook.slug}"
        return updated_details(PLAYBOOK, playbook.slug, changes)

    return config_update(PLAYBOOK, tenant=tenant, actor=actor, slug=playbook_id, changes=changes,
                         expected_version=expected_version, action=action, details=details)


def playbook_set_enabled(*, tenant: Any, actor: Actor, playbook_id: str, enabled: bool,
                         expected_version: int | None = None) -> Playbook:
    return playbook_update(tenant=tenant, actor=actor, playbook_id=playbook_id, changes={"is_enabled": enabled},
                           expected_version=expected_version,
                           action="playbook.enable" if enabled else "playbook.disable")


def playbook_delete(*, tenant: Any, actor: Actor, playbook_id: str, expected_version: int | None = None) -> None:
    config_delete(PLAYBOOK, tenant=tenant, actor=actor, slug=playbook_id, expected_version=expected_version)
