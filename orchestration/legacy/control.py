"""The old ``maestro_db.json`` (loops, agents, experiments, playbooks, audit log) in and out.
Import keeps ids, is idempotent (an id already present is skipped, never overwritten) and
never stops at a bad entry: each is reported with its section, index and reason. Nothing
else in Maestro reads or writes that file; ``maestro_import --maestro-db`` / ``maestro_export``
call these two functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from maestro.core.actors import Actor
from maestro.core.exceptions import MaestroError
from maestro.core.wire import NaiveTimestamp, from_iso, to_iso
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Resource
from maestro.write_path.selectors import audit_history, audit_row_known
from maestro.write_path.services import audit_history_add, record, service
from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.base import slug_validator
from orchestration.control.models.experiments import Experiment
from orchestration.control.models.loops import AutonomicLoop
from orchestration.control.models.playbooks import Playbook
from orchestration.control.representations import agents_repr, experiment_repr, loop_repr, playbook_repr
from orchestration.control.selectors.agents import agent_list
from orchestration.control.selectors.experiments import experiment_list
from orchestration.control.selectors.loops import loop_list
from orchestration.control.selectors.playbooks import playbook_list
from orchestration.control.services.agents import agent_create
from orchestration.control.services.experiments import experiment_create
from orchestration.control.services.loops import loop_create
from orchestration.control.services.playbooks import playbook_create

SECTIONS = ("loops", "agents", "experiments", "playbooks", "auditLog")


@dataclass
class ImportReport:
    dry_run: bool
    created: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SECTIONS})
    skipped: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SECTIONS})
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {"dryRun": self.dry_run, "created": self.created, "skipped": self.skipped, "errors": self.errors}


class _Invalid(Exception):
    pass


class _DryRun(Exception):
    pass


def parse_time(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{name} must be an ISO-8601 string")
    try:
        return from_iso(value)
    except NaiveTimestamp:
        raise _Invalid(f"{name} has no time zone: {value!r}") from None
    except ValueError:
        raise _Invalid(f"{name} is not an ISO-8601 timestamp: {value!r}") from None


def _str(entry: dict[str, Any], key: str, *, required: bool = False, default: str = "") -> str:
    value = entry.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str) or (required and not value.strip()):
        raise _Invalid(f"{key} is required" if required and isinstance(value, str) else f"{key} must be a string")
    return value


def _id(entry: Any) -> str:
    if not isinstance(entry, dict):
        raise _Invalid("entry must be an object")
    value = entry.get("id")
    if not isinstance(value, str) or not value:
        raise _Invalid("id is required")
    try:
        slug_validator(value)
    except Exception:
        raise _Invalid(f"id {value!r} is not a valid id") from None
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(f"{name} must be a number")
    return value


def _import_loop(tenant: Tenant, actor: Actor, entry: dict[str, Any]) -> None:
    config = entry.get("config", {})
    if not isinstance(config, dict):
        raise _Invalid("config must be an object")
    loop_create(tenant=tenant, actor=actor, loop_id=entry["id"], name=_str(entry, "name", required=True),
                type=_str(entry, "type", required=True), status=_str(entry, "status", default="active"),
                config=config, last_decision=_str(entry, "lastDecision"),
                last_run=parse_time(entry.get("lastRun"), "lastRun"), action=Action.LOOP_IMPORT,
                keep_unknown_config=True)  # the old system took any config keys


def _import_agent(tenant: Tenant, actor: Actor, entry: dict[str, Any]) -> None:
    # The old metrics were stored constants; Maestro counts them from the agent's runs, so the
    # imported numbers are checked (a broken entry is reported) and not kept.
    metrics = entry.get("metrics", {})
    if not isinstance(metrics, dict):
        raise _Invalid("metrics must be an object")
    for key in ("successRate", "latencyP95", "costPerTask"):
        if key in metrics:
            _number(metrics[key], f"metrics.{key}")
    weight = _number(entry.get("routingWeight", 100), "routingWeight")
    if weight != int(weight):
        raise _Invalid("routingWeight must be an integer")
    agent_create(tenant=tenant, actor=actor, agent_id=entry["id"], name=_str(entry, "name", required=True),
                 role=_str(entry, "role"), model=_str(entry, "model"), status=_str(entry, "status", default="healthy"),
                 routing_weight=int(weight), action=Action.AGENT_IMPORT)


def _import_experiment(tenant: Tenant, actor: Actor, entry: dict[str, Any]) -> None:
    # An export carries the full variant objects next to the old id list.
    variants = entry.get("variantDetails") or entry.get("variants")
    metrics = entry.get("metrics", {})
    if not isinstance(metrics, dict):
        raise _Invalid("metrics must be an object")
    status = _str(entry, "status", default="draft")
    start = parse_time(entry.get("startDate"), "startDate")
    experiment_create(tenant=tenant, actor=actor, experiment_id=entry["id"], name=_str(entry, "name", required=True),
                      hypothesis=_str(entry, "hypothesis"), status=status, variants=variants, metrics=metrics,
                      stop_conditions=entry.get("stopConditions") or [], start_date=start,
                      end_date=parse_time(entry.get("endDate"), "endDate"), action=Action.EXPERIMENT_IMPORT)


def _import_playbook(tenant: Tenant, actor: Actor, entry: dict[str, Any]) -> None:
    enabled = entry.get("isEnabled", False)
    if not isinstance(enabled, bool):
        raise _Invalid("isEnabled must be a boolean")
    playbook_create(tenant=tenant, actor=actor, playbook_id=entry["id"], name=_str(entry, "name", required=True),
                    description=_str(entry, "description"), triggers=entry.get("triggers") or [],
                    actions=entry.get("actions") or [], is_enabled=enabled, action=Action.PLAYBOOK_IMPORT)


_ENTITIES: dict[str, tuple[type[AutonomicLoop | AgentProfile | Experiment | Playbook],
                           Callable[[Tenant, Actor, dict[str, Any]], None]]] = {
    "loops": (AutonomicLoop, _import_loop),
    "agents": (AgentProfile, _import_agent),
    "experiments": (Experiment, _import_experiment),
    "playbooks": (Playbook, _import_playbook),
}


def _import_audit_row(tenant: Tenant, entry: Any) -> str:
    if not isinstance(entry, dict):
        raise _Invalid("entry must be an object")
    audit_id = entry.get("id")
    if not isinstance(audit_id, str) or not audit_id or len(audit_id) > 64:
        raise _Invalid("id is required (a string of at most 64 characters)")
    timestamp = parse_time(entry.get("timestamp"), "timestamp")
    if timestamp is None:
        raise _Invalid("timestamp is required")
    status = _str(entry, "status", default="allowed")
    if status not in ("allowed", "denied"):
        raise _Invalid(f"status must be allowed or denied, not {status!r}")
    audit_history_add(tenant_id=tenant.pk, legacy_id=audit_id, timestamp=timestamp,
                      actor=_str(entry, "actor", required=True), action=_str(entry, "action", required=True),
                      resource=_str(entry, "resource"), details=_str(entry, "details"), status=status,
                      policy_id=_str(entry, "policyId") or "")
    return audit_id


def import_maestro_db(*, tenant: Tenant, data: dict[str, Any], actor: Actor, dry_run: bool = False) -> ImportReport:
    """Imports what is new; with ``dry_run`` everything is validated and written, then rolled
    back, so the report says exactly what a real run would do."""
    report = ImportReport(dry_run=dry_run)
    if not isinstance(data, dict):
        report.errors.append({"section": "", "index": None, "id": None, "reason": "maestro_db must be a JSON object"})
        return report
    try:
        with transaction.atomic():
            # One importer per tenant at a time, so "already there?" and "insert" cannot race.
            Tenant.objects.select_for_update(no_key=True).filter(pk=tenant.pk).first()
            for section in SECTIONS:
                entries = data.get(section, [])
                if not isinstance(entries, list):
                    report.errors.append({"section": section, "index": None, "id": None,
                                          "reason": f"{section} must be a list"})
                    continue
                if section == "auditLog":
                    _import_audit(tenant, actor, entries, report)
                else:
                    _import_entities(tenant, actor, section, entries, report)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report


def _import_entities(tenant: Tenant, actor: Actor, section: str, entries: list[Any], report: ImportReport) -> None:
    model, create = _ENTITIES[section]
    for index, entry in enumerate(entries):
        entity_id = entry.get("id") if isinstance(entry, dict) else None
        try:
            entity_id = _id(entry)
            if model.objects.filter(tenant=tenant, slug=entity_id).exists():
                report.skipped[section].append(entity_id)
                continue
            create(tenant, actor, entry)
            report.created[section].append(entity_id)
        except (_Invalid, MaestroError) as exc:
            report.errors.append({"section": section, "index": index, "id": entity_id,
                                  "reason": getattr(exc, "message", None) or str(exc)})


def _import_audit(tenant: Tenant, actor: Actor, entries: list[Any], report: ImportReport) -> None:
    for index, entry in enumerate(entries):
        audit_id = entry.get("id") if isinstance(entry, dict) else None
        try:
            if isinstance(audit_id, str) and audit_id and audit_row_known(tenant_id=tenant.pk, audit_id=audit_id):
                report.skipped["auditLog"].append(audit_id)
                continue
            with service():
                report.created["auditLog"].append(_import_audit_row(tenant, entry))
        except _Invalid as exc:
            report.errors.append({"section": "auditLog", "index": index, "id": audit_id, "reason": str(exc)})
    if report.created["auditLog"]:
        with service():
            record(tenant_id=tenant.pk, actor=actor, action=Action.AUDIT_IMPORT, resource_type=Resource.AUDIT_LOG,
                   resource_id="maestro_db.json",
                   details=f"Imported {len(report.created['auditLog'])} legacy audit row(s)")


def export_maestro_db(*, tenant: Tenant) -> dict[str, Any]:
    """The old file's layout. Experiments also carry ``variantDetails`` and ``stopConditions``
    so nothing is lost on a round trip; the audit log is oldest first, as the file kept it."""
    def strip(item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in item.items() if k != "version"}

    audit = []
    for row in audit_history(tenant_id=tenant.pk):
        item = {"id": row.legacy_id or str(row.id), "timestamp": to_iso(row.timestamp), "actor": row.actor,
                "action": row.action, "resource": row.resource, "details": row.details, "status": row.status}
        if row.policy_id:
            item["policyId"] = row.policy_id
        audit.append(item)
    experiments = []
    for exp in experiment_list(tenant=tenant):
        item = strip(experiment_repr(exp))
        if item["endDate"] is None:
            del item["endDate"]
        experiments.append(item)
    return {
        "loops": [strip(loop_repr(loop)) for loop in loop_list(tenant=tenant)],
        "experiments": experiments,
        "playbooks": [strip(playbook_repr(p)) for p in playbook_list(tenant=tenant)],
        "auditLog": audit,
        "agents": [{**strip(a), "metrics": {k: v for k, v in a["metrics"].items() if k != "sampleSize"}}
                   for a in agents_repr(list(agent_list(tenant=tenant)))],
    }
