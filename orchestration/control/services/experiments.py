"""Experiments (DESIGN §7.3): create, edit, run, stop, record observations; stop conditions
end a running experiment. Assignment and results are reads (selectors.experiments)."""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import Conflict, ValidationFailed
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Event, Resource
from orchestration.base import entities
from orchestration.control import schemas
from orchestration.control.models.base import slug_validator
from orchestration.control.models.experiments import Experiment, ExperimentObservation, ExperimentVariant
from orchestration.control.representations import experiment_repr
from orchestration.control.selectors.experiments import assign_variant, experiment_get, observation_stats

EXPERIMENT: entities.Kind[Experiment] = entities.Kind(
    model=Experiment, resource=Resource.EXPERIMENT, label="Experiment", present=experiment_repr,
    lookup=lambda tenant, ident, lock: experiment_get(tenant=tenant, experiment_id=ident, lock=lock),
)
LIFECYCLE = "experiment_lifecycle"
EDITABLE = ("name", "hypothesis", "metrics", "variants", "stop_conditions")
MAX_VARIANTS = 20
_OPS = {"lt": lambda a, b: a < b, "lte": lambda a, b: a <= b, "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b}


def normalize_variants(variants: Any) -> list[dict[str, Any]]:
    """``["control", "v2"]`` (equal weights, as the old data has them) or
    ``[{id, trafficWeight, configOverrides}]``; weights are integers that sum to 100."""
    if not isinstance(variants, list) or len(variants) < 2:
        raise ValidationFailed("variants must be a list of at least 2 variants", details={"variants": variants})
    if len(variants) > MAX_VARIANTS:
        raise ValidationFailed(f"at most {MAX_VARIANTS} variants", details={"count": len(variants)})
    if all(isinstance(v, str) for v in variants):
        items = [{"id": v} for v in variants]
    elif all(isinstance(v, dict) for v in variants):
        items = [dict(v) for v in variants]
    else:
        raise ValidationFailed("variants must be all ids or all objects", details={"variants": variants})
    out: list[dict[str, Any]] = []
    for item in items:
        unknown = set(item) - {"id", "trafficWeight", "configOverrides"}
        if unknown:
            raise ValidationFailed(f"unknown variant field(s): {', '.join(sorted(unknown))}")
        key = item.get("id")
        if not isinstance(key, str) or not key:
            raise ValidationFailed("each variant needs an id", details={"variant": item})
        try:
            slug_validator(key)
        except Exception:
            raise ValidationFailed(f"variant id {key!r} is not a valid id", details={"variant": key}) from None
        overrides = item.get("configOverrides", {})
        if not isinstance(overrides, dict):
            raise ValidationFailed(f"configOverrides of {key} must be an object", details={"variant": key})
        out.append({"id": key, "trafficWeight": item.get("trafficWeight"), "configOverrides": overrides})
    keys = [v["id"] for v in out]
    if len(set(keys)) != len(keys):
        raise ValidationFailed("variant ids must be unique", details={"variants": keys})
    given = [v["trafficWeight"] is not None for v in out]
    if not any(given):
        share, extra = divmod(100, len(out))
        for i, v in enumerate(out):
            v["trafficWeight"] = share + (1 if i < extra else 0)
    elif not all(given):
        raise ValidationFailed("either every variant has a trafficWeight or none has")
    for v in out:
        w = v["trafficWeight"]
        if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= 100:
            raise ValidationFailed(f"trafficWeight of {v['id']} must be an integer between 0 and 100",
                                   details={"variant": v["id"], "trafficWeight": w})
    total = sum(v["trafficWeight"] for v in out)
    if total != 100:
        raise ValidationFailed(f"traffic weights must sum to 100 (they sum to {total})",
                               details={"sum": total, "weights": {v["id"]: v["trafficWeight"] for v in out}})
    return out


def stop_condition_errors(conditions: Any) -> list[str]:
    return schemas.errors("experiment_stop_conditions", conditions)


def _check_stop_conditions(conditions: Any) -> None:
    problems = stop_condition_errors(conditions)
    if problems:
        raise ValidationFailed(f"stopConditions are invalid: {problems[0]}", details={"stopConditions": problems})


def _write_variants(experiment: Experiment, variants: list[dict[str, Any]]) -> None:
    experiment.variant_rows.all().delete()
    ExperimentVariant.objects.bulk_create([
        ExperimentVariant(experiment=experiment, key=v["id"], traffic_weight=v["trafficWeight"],
                          config_overrides=v["configOverrides"], position=i) for i, v in enumerate(variants)])


def _fresh(experiment: Experiment) -> Experiment:
    # Re-read with variants prefetched, so the event and the response show what was stored.
    return experiment_get(tenant=experiment.tenant, experiment_id=experiment.slug)


def experiment_create(*, tenant: Tenant, actor: Actor, name: str, variants: Any, experiment_id: str | None = None,
                      hypothesis: str = "", status: str = Experiment.Status.DRAFT,
                      metrics: dict[str, Any] | None = None,
                      stop_conditions: list[Any] | None = None, start_date: datetime | None = None,
                      end_date: datetime | None = None, action: Action = Action.EXPERIMENT_CREATE) -> Experiment:
    entities.require_choice(status, Experiment.Status.values, "status")
    normalized = normalize_variants(variants)
    stop_conditions = [] if stop_conditions is None else stop_conditions
    _check_stop_conditions(stop_conditions)
    if metrics is not None and not isinstance(metrics, dict):
        raise ValidationFailed("metrics must be an object")
    experiment_id = experiment_id or f"exp-{secrets.token_hex(4)}"
    now = timezone.now()
    if status == Experiment.Status.RUNNING and start_date is None:
        start_date = now
    experiment = Experiment(tenant=tenant, slug=experiment_id, name=name, hypothesis=hypothesis, status=status,
                            metrics=metrics or {}, stop_conditions=stop_conditions, start_date=start_date,
                            end_date=end_date, created_at=now, updated_at=now)

    def with_variants(saved: Experiment) -> Experiment:
        _write_variants(saved, normalized)
        return _fresh(saved)

    return entities.create(EXPERIMENT, experiment, tenant=tenant, actor=actor, action=action,
                           details=f"Created experiment {name}", after_save=with_variants)


def experiment_update(*, tenant: Tenant, actor: Actor, experiment_id: str, changes: dict[str, Any],
                      expected_version: int | None = None) -> Experiment:
    """Edit name, hypothesis, metrics, stop conditions; variants only while a draft (changing
    weights of a running experiment would move entities between variants mid-test)."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"Unknown experiment field(s): {', '.join(sorted(unknown))}")
    variants = normalize_variants(changes["variants"]) if "variants" in changes else None
    if "stop_conditions" in changes:
        _check_stop_conditions(changes["stop_conditions"])
    if "metrics" in changes and not isinstance(changes["metrics"], dict):
        raise ValidationFailed("metrics must be an object")
    with entities.editing(EXPERIMENT, tenant=tenant, actor=actor, ident=experiment_id,
                          expected_version=expected_version) as edit:
        experiment = edit.obj
        current = [(v.key, v.traffic_weight, v.config_overrides) for v in experiment.variant_rows.all()]
        wanted = None if variants is None else [(v["id"], v["trafficWeight"], v["configOverrides"])
                                                for v in variants]
        if wanted is not None and wanted != current and experiment.status != Experiment.Status.DRAFT:
            raise Conflict("Variants can only be changed while the experiment is a draft",
                           details={"status": experiment.status, "policy": LIFECYCLE})
        fields = {f: changes[f] for f in ("name", "hypothesis", "metrics", "stop_conditions") if f in changes}
        for name, value in fields.items():
            setattr(experiment, name, value)
        entities.clean_or_400(experiment, exclude=["tenant"])
        edit.save(fields)
        if wanted is not None and wanted != current:
            _write_variants(experiment, variants or [])
        edit.obj = _fresh(experiment)
        edit.record(entities.updated_details(EXPERIMENT, experiment_id, changes))
    return edit.obj


def _transition(*, tenant: Tenant, actor: Actor, experiment_id: str, action: Action, allowed_from: tuple[str, ...],
                to: str, expected_version: int | None, details: str) -> Experiment:
    with entities.editing(EXPERIMENT, tenant=tenant, actor=actor, ident=experiment_id, action=action,
                          expected_version=expected_version) as edit:
        if edit.obj.status not in allowed_from:
            raise Conflict(f"Experiment {experiment_id} is {edit.obj.status}; cannot {action.split('.')[-1]} it",
                           details={"status": edit.obj.status, "policy": LIFECYCLE})
        _set_status(edit, to)
        edit.record(details.format(id=experiment_id))
    return edit.obj


def _set_status(edit: entities.Edit[Experiment], to: str) -> None:
    now = timezone.now()
    experiment = edit.obj
    experiment.status = to
    if to == Experiment.Status.RUNNING:
        experiment.start_date, experiment.end_date = now, None
    else:
        experiment.end_date = now
    edit.save(["status", "start_date", "end_date"], now=now)
    edit.obj = _fresh(experiment)


def experiment_run(*, tenant: Tenant, actor: Actor, experiment_id: str,
                   expected_version: int | None = None) -> Experiment:
    """draft → running; sets ``startDate``."""
    return _transition(tenant=tenant, actor=actor, experiment_id=experiment_id, action=Action.EXPERIMENT_RUN,
                       allowed_from=(Experiment.Status.DRAFT,), to=Experiment.Status.RUNNING,
                       expected_version=expected_version, details="Started experiment {id}")


def experiment_stop(*, tenant: Tenant, actor: Actor, experiment_id: str,
                    expected_version: int | None = None) -> Experiment:
    """running → completed; sets ``endDate``."""
    return _transition(tenant=tenant, actor=actor, experiment_id=experiment_id, action=Action.EXPERIMENT_STOP,
                       allowed_from=(Experiment.Status.RUNNING,), to=Experiment.Status.COMPLETED,
                       expected_version=expected_version, details="Stopped experiment {id}")


def experiment_observe(*, tenant: Tenant, actor: Actor, experiment_id: str, metrics: dict[str, Any],
                       variant: str | None = None, entity_id: str = "") -> tuple[Experiment, list[str]]:
    """Records one value per metric for a variant (given, or the entity's assignment). Then
    checks the stop conditions; returns the experiment and the conditions that ended it."""
    if not isinstance(metrics, dict) or not metrics:
        raise ValidationFailed("metrics must be a non-empty object of numbers")
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValidationFailed(f"metric {name} must be a finite number", details={"metric": name, "value": value})
    if variant is None and not entity_id:
        raise ValidationFailed("variant or entityId is required")
    with entities.editing(EXPERIMENT, tenant=tenant, actor=actor, ident=experiment_id,
                          action=Action.EXPERIMENT_OBSERVE) as edit:
        experiment = edit.obj
        if experiment.status != Experiment.Status.RUNNING:
            raise Conflict(f"Experiment {experiment_id} is {experiment.status}; observations need it running",
                           details={"status": experiment.status, "policy": LIFECYCLE})
        weights = [(v.key, v.traffic_weight) for v in experiment.variant_rows.all()]
        if variant is None:
            variant = assign_variant(experiment.slug, entity_id, weights)
        elif variant not in dict(weights):
            raise ValidationFailed(f"Unknown variant {variant!r}", details={"variants": [k for k, _ in weights]})
        now = timezone.now()
        ExperimentObservation.objects.bulk_create([
            ExperimentObservation(experiment=experiment, variant_key=variant, entity_id=entity_id, metric=name,
                                  value=float(value), created_at=now) for name, value in metrics.items()])
        edit.change.record(details=f"{len(metrics)} observation(s) for variant {variant}",
                           event=(Event.EXPERIMENT_OBSERVATION, {"experimentId": experiment.slug, "variant": variant,
                                                                 "entityId": entity_id or None, "metrics": metrics}))
        met = stop_conditions_met(experiment, now=now)
        if met:
            _complete(edit, met=met)
    return edit.obj, met


def stop_conditions_met(experiment: Experiment, *, now: datetime) -> list[str]:
    """The stop conditions (as text) that hold now. Observation counts are metric values."""
    met: list[str] = []
    stats = None
    for cond in experiment.stop_conditions or []:
        kind = cond.get("type")
        if kind == "maxDuration" and experiment.start_date is not None:
            try:
                limit = timedelta(hours=cond["hours"])
            except OverflowError:  # stored before hours had a maximum: longer than time can reach
                continue
            if now - experiment.start_date >= limit:
                met.append(f"maxDuration {cond['hours']}h")
            continue
        stats = stats if stats is not None else observation_stats(experiment=experiment)
        if kind == "maxObservations":
            total = sum(agg["count"] for per in stats.values() for agg in per.values())
            if total >= cond["value"]:
                met.append(f"maxObservations {cond['value']}")
        elif kind == "metricThreshold":
            variants = [cond["variant"]] if cond.get("variant") else list(stats)
            for key in variants:
                agg = stats.get(key, {}).get(cond["metric"])
                if (agg is not None and agg["count"] >= cond.get("minObservations", 1)  # enough observations
                        and _OPS[cond["op"]](agg["mean"], cond["value"])):
                    met.append(f"metricThreshold {key}.{cond['metric']} {cond['op']} {cond['value']}")
                    break
    return met


def _complete(edit: entities.Edit[Experiment], *, met: list[str]) -> None:
    _set_status(edit, Experiment.Status.COMPLETED)
    edit.record(f"Stop condition met: {'; '.join(met)}", action=Action.EXPERIMENT_COMPLETE)


def experiment_check_stop_conditions(*, tenant: Tenant, actor: Actor, experiment_id: str) -> list[str]:
    """For the scheduler: ends a running experiment whose time-based condition has passed."""
    with entities.editing(EXPERIMENT, tenant=tenant, actor=actor, ident=experiment_id,
                          action=Action.EXPERIMENT_COMPLETE) as edit:
        if edit.obj.status != Experiment.Status.RUNNING:
            return []
        met = stop_conditions_met(edit.obj, now=timezone.now())
        if met:
            _complete(edit, met=met)
    return met


def experiment_delete(*, tenant: Tenant, actor: Actor, experiment_id: str, expected_version: int | None = None) -> None:
    entities.delete(EXPERIMENT, tenant=tenant, actor=actor, ident=experiment_id, expected_version=expected_version)
