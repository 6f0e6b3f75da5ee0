"""Playbooks: remediation recipes that loops trigger. Create, edit, enable/disable, delete."""

from __future__ import annotations

import secrets
from typing import Any

from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import ValidationFailed
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Resource
from orchestration.base import actions as step_actions
from orchestration.base import entities
from orchestration.control.models.playbooks import Playbook
from orchestration.control.representations import playbook_repr
from orchestration.control.selectors.playbooks import playbook_get

EDITABLE = ("name", "description", "triggers", "actions", "is_enabled")
MAX_ITEMS = 100
PLAYBOOK: entities.Kind[Playbook] = entities.Kind(
    model=Playbook, resource=Resource.PLAYBOOK, label="Playbook", present=playbook_repr,
    lookup=lambda tenant, ident, lock: playbook_get(tenant=tenant, playbook_id=ident, lock=lock),
)


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


def _known_actions(values: dict[str, Any]) -> None:
    """A playbook's actions run as workflow steps: one the registry does not know is refused
    when an operator saves it. (Seeded and imported playbooks keep the old system's actions; a
    run of one fails its step, naming the action.)"""
    unknown = [a for a in values.get("actions", []) if not step_actions.known(a)]
    if unknown:
        raise ValidationFailed(f"Unknown action {unknown[0]}", details={"field": "actions", "action": unknown[0],
                                                                         "known": step_actions.names()})


CHECKED = (Action.PLAYBOOK_CREATE, Action.PLAYBOOK_UPDATE)


def playbook_create(*, tenant: Tenant, actor: Actor, name: str, playbook_id: str | None = None, description: str = "",
                    triggers: list[str] | None = None, actions: list[str] | None = None, is_enabled: bool = False,
                    action: Action = Action.PLAYBOOK_CREATE) -> Playbook:
    values = {"name": name, "description": description, "triggers": triggers or [], "actions": actions or [],
              "is_enabled": is_enabled}
    _validate(values)
    if action in CHECKED:
        _known_actions(values)
    values["name"] = name.strip()
    playbook_id = playbook_id or f"pb-{secrets.token_hex(4)}"
    now = timezone.now()
    playbook = Playbook(tenant=tenant, slug=playbook_id, created_at=now, updated_at=now, **values)
    return entities.create(PLAYBOOK, playbook, tenant=tenant, actor=actor, action=action,
                           details=f"Created playbook {playbook.name}")


def playbook_update(*, tenant: Tenant, actor: Actor, playbook_id: str, changes: dict[str, Any],
                    expected_version: int | None = None, action: Action = Action.PLAYBOOK_UPDATE) -> Playbook:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"Unknown playbook field(s): {', '.join(sorted(unknown))}")
    _validate(changes)
    if action in CHECKED:
        _known_actions(changes)
    if "name" in changes:
        changes = {**changes, "name": changes["name"].strip()}

    def details(playbook: Playbook) -> str:
        if set(changes) == {"is_enabled"}:
            return f"{'Enabled' if playbook.is_enabled else 'Disabled'} playbook {playbook.slug}"
        return entities.updated_details(PLAYBOOK, playbook.slug, changes)

    return entities.update(PLAYBOOK, tenant=tenant, actor=actor, ident=playbook_id, changes=changes,
                           expected_version=expected_version, action=action, details=details)


def playbook_set_enabled(*, tenant: Tenant, actor: Actor, playbook_id: str, enabled: bool,
                         expected_version: int | None = None) -> Playbook:
    return playbook_update(tenant=tenant, actor=actor, playbook_id=playbook_id, changes={"is_enabled": enabled},
                           expected_version=expected_version,
                           action=Action.PLAYBOOK_ENABLE if enabled else Action.PLAYBOOK_DISABLE)


def playbook_delete(*, tenant: Tenant, actor: Actor, playbook_id: str, expected_version: int | None = None) -> None:
    entities.delete(PLAYBOOK, tenant=tenant, actor=actor, ident=playbook_id, expected_version=expected_version)
