from __future__ import annotations

import hashlib

from django.db.models import Avg, Count, Prefetch, QuerySet

from maestro.tenancy.models import Tenant
from orchestration.base.selectors import Lock, one
from orchestration.control.models.experiments import Experiment, ExperimentObservation, ExperimentVariant
from orchestration.control.representations import AssignmentOut, MetricResultOut, ResultsOut, VariantResultOut


def _with_variants(qs: QuerySet[Experiment]) -> QuerySet[Experiment]:
    return qs.prefetch_related(Prefetch("variant_rows", queryset=ExperimentVariant.objects.order_by("position", "id")))


def experiment_list(*, tenant: Tenant) -> QuerySet[Experiment]:
    return _with_variants(Experiment.objects.filter(tenant=tenant))


def experiment_get(*, tenant: Tenant, experiment_id: str, lock: Lock = None) -> Experiment:
    return one(_with_variants(Experiment.objects.filter(tenant=tenant, slug=experiment_id)), "experiment",
               experiment_id, lock=lock)


def bucket_of(experiment_id: str, entity_id: str) -> int:
    """DESIGN §7.3: ``int(sha256(f"{experimentId}:{entityId}")[:8], 16) % 100``."""
    digest = hashlib.sha256(f"{experiment_id}:{entity_id}".encode()).hexdigest()
    return int(digest[:8], 16) % 100


def assign_variant(experiment_id: str, entity_id: str, weights: list[tuple[str, int]]) -> str:
    """Walks the cumulative traffic weights (which sum to 100) to the entity's bucket."""
    bucket = bucket_of(experiment_id, entity_id)
    cumulative = 0
    for key, weight in weights:
        cumulative += weight
        if bucket < cumulative:
            return key
    return weights[-1][0]  # unreachable while weights sum to 100; never index past the end


def experiment_assignment(*, experiment: Experiment, entity_id: str) -> AssignmentOut:
    weights = [(v.key, v.traffic_weight) for v in experiment.variant_rows.all()]
    return {"experimentId": experiment.slug, "entityId": entity_id,
            "variant": assign_variant(experiment.slug, entity_id, weights)}


def control_variant(experiment: Experiment) -> str:
    """The baseline results are compared with: the variant named ``control``, else the first."""
    keys = [v.key for v in experiment.variant_rows.all()]
    return "control" if "control" in keys else keys[0]


def observation_stats(*, experiment: Experiment) -> dict[str, dict[str, dict[str, float]]]:
    """{variant: {metric: {"count": n, "mean": m}}}, aggregated in the database."""
    stats: dict[str, dict[str, dict[str, float]]] = {}
    rows = (ExperimentObservation.objects.filter(experiment=experiment).values("variant_key", "metric")
            .annotate(n=Count("id"), mean=Avg("value")).order_by("variant_key", "metric"))
    for row in rows:
        stats.setdefault(row["variant_key"], {})[row["metric"]] = {"count": row["n"], "mean": row["mean"]}
    return stats


def experiment_results(*, experiment: Experiment) -> ResultsOut:
    """Per variant and metric: count, mean, and the difference of the mean to control's
    (absolute and relative; null where control has no observations of that metric)."""
    stats = observation_stats(experiment=experiment)
    control = control_variant(experiment)
    baseline = stats.get(control, {})
    variants: list[VariantResultOut] = []
    total = 0
    for variant in experiment.variant_rows.all():
        metrics: dict[str, MetricResultOut] = {}
        for metric, agg in stats.get(variant.key, {}).items():
            total += int(agg["count"])
            base = baseline.get(metric)
            diff: float | None = None
            rel: float | None = None
            if base is not None:
                diff = agg["mean"] - base["mean"]
                rel = None if base["mean"] == 0 else diff / abs(base["mean"]) * 100
            metrics[metric] = {"count": int(agg["count"]), "mean": agg["mean"], "diffToControl": diff,
                               "diffToControlPercent": rel}
        variants.append({"variant": variant.key, "trafficWeight": variant.traffic_weight,
                         "isControl": variant.key == control, "metrics": metrics})
    return {"experimentId": experiment.slug, "status": experiment.status, "control": control,
            "totalObservations": total, "variants": variants}
