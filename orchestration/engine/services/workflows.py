"""Workflow definitions: versioned, validated specs (DESIGN §7.1). Posting an existing name adds
the next version; definitions are never edited in place except for being enabled or disabled,
so a run always names the exact spec it executes."""

from __future__ import annotations

from typing import Any

import yaml
from django.db import IntegrityError, transaction
from django.db.models import Max

from maestro.core.actors import Actor
from maestro.core.exceptions import Conflict, ValidationFailed
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Event, Resource
from maestro.write_path.services import Change, service
from orchestration.base import entities
from orchestration.engine import clock, spec
from orchestration.engine.models import WorkflowDefinition
from orchestration.engine.representations import workflow_repr
from orchestration.engine.selectors import workflow_get

NAME_MAX = 200


def _change(tenant: Tenant, actor: Actor, action: Action, name: str) -> Change:
    return Change(tenant_id=tenant.pk, actor=actor, action=action, resource_type=Resource.WORKFLOW, resource_id=name)


def workflow_create(*, tenant: Tenant, actor: Actor, name: str, spec_json: Any = None, spec_yaml: str | None = None,
                    is_enabled: bool = True, action: Action = Action.WORKFLOW_CREATE) -> WorkflowDefinition:
    """A new definition, or the next version of ``name``. The spec comes as JSON (``spec_json``)
    or YAML text (``spec_yaml``), exactly one of them."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
        raise ValidationFailed(f"name is required (at most {NAME_MAX} characters)", details={"field": "name"})
    name = name.strip()
    if (spec_json is None) == (spec_yaml is None):
        raise ValidationFailed("Give exactly one of spec and specYaml", details={"field": "spec", "step": None})
    if spec_yaml is not None:
        spec_json = spec.parse_yaml(spec_yaml)
    spec.validate(spec_json)
    if spec_yaml is None:
        spec_yaml = yaml.safe_dump(spec_json, sort_keys=False)
    if not isinstance(is_enabled, bool):
        raise ValidationFailed("isEnabled must be a boolean", details={"field": "isEnabled"})
    change = _change(tenant, actor, action, name)
    for _ in range(3):  # two new versions of one name at once: the loser takes the next number
        try:
            with service(change):
                latest = (WorkflowDefinition.objects.filter(tenant=tenant, name=name)
                          .aggregate(v=Max("version"))["v"] or 0)
                wf = WorkflowDefinition(tenant=tenant, name=name, version=latest + 1, spec=spec_json,
                                        spec_yaml=spec_yaml, is_enabled=is_enabled, created_at=clock.now())
                entities.clean_or_400(wf, exclude=["tenant"], validate_unique=False)
                with transaction.atomic():
                    wf.save(force_insert=True)
                change.record(details=f"Created workflow {name} version {wf.version}",
                              event=(Event.WORKFLOW_CREATED, workflow_repr(wf)))
                return wf
        except IntegrityError:
            continue
    raise Conflict(f"Workflow {name} is being changed by someone else; try again",
                   details={"policy": "workflow_version"})


def workflow_set_enabled(*, tenant: Tenant, actor: Actor, name: str, version: int, enabled: bool) -> WorkflowDefinition:
    change = _change(tenant, actor, Action.WORKFLOW_UPDATE, name)
    with service(change):
        wf = workflow_get(tenant=tenant, name=name, version=version)
        WorkflowDefinition.objects.filter(pk=wf.pk).update(is_enabled=enabled)
        wf.is_enabled = enabled
        change.record(details=f"{'Enabled' if enabled else 'Disabled'} workflow {name} version {version}",
                      event=(Event.WORKFLOW_UPDATED, workflow_repr(wf)))
    return wf
